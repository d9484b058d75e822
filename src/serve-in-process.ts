import { composeConfiguredRouter } from './compose.js';
import { resolvePaths } from './core/paths.js';
import type { ProtocolReply } from './core/protocol/handler.js';
import { packageVersion } from './core/version.js';
import type { ServiceRequest } from './core/wire/contract.js';
import { ensureRuntimeDir, inspectRuntimeDir } from './core/wire/runtime-dir.js';
import { answer, loadRouter } from './service/answer.js';
import { type Collections, fileCollections } from './service/collection.js';

/**
 * Answers one request in this process, with the providers built from scratch: the daemon's peer, for
 * CREDRELAY_NO_DAEMON=1 and whenever the daemon cannot be used.
 */
export async function answerInProcess(request: ServiceRequest): Promise<ProtocolReply> {
  return answer(request, await loadRouter(composeConfiguredRouter), packageVersion(), collectionsFor(request));
}

/** Where a `list` and the `get`s after it meet, as the daemon keeps them: the private runtime directory. */
function collectionsFor(request: ServiceRequest): Collections | undefined {
  if (request.kind !== 'protocol' || request.caller === undefined) return undefined;
  if (request.action !== 'list' && request.action !== 'get') return undefined;
  const paths = resolvePaths();
  // A `list` records what it gave, so it may make the private runtime directory; a `get` only looks, and makes nothing.
  const verdict = (request.action === 'list' ? ensureRuntimeDir : inspectRuntimeDir)(
    paths.runtimeDir,
    paths.socketPath,
  );
  return verdict.state === 'safe' ? fileCollections(paths.runtimeDir) : undefined;
}
