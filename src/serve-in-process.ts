import { createBackend } from './backend.js';
import { loadConfig } from './config.js';
import { resolvePaths } from './paths.js';
import { type ProtocolAction, type ProtocolReply, handleAction } from './protocol/handler.js';
import { packageVersion } from './version.js';

/**
 * Answers one protocol request in this process, with the providers built from scratch: for CREDRELAY_NO_DAEMON=1,
 * and whenever the daemon cannot be used.
 */
export async function serveInProcess(action: ProtocolAction, input: Uint8Array): Promise<ProtocolReply> {
  let backend;
  try {
    backend = await createBackend({ config: loadConfig(resolvePaths().configPath) });
  } catch (error) {
    return handleAction(action, input, failingBackend(error), packageVersion());
  }
  return handleAction(action, input, backend, packageVersion());
}

/** A backend that answers everything with the configuration error, so the user sees it on every action. */
function failingBackend(error: unknown) {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return { get: fail, store: fail, erase: fail, list: fail };
}
