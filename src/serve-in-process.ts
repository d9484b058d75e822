import { composeConfiguredRouter } from './compose.js';
import type { ProtocolReply } from './core/protocol/handler.js';
import { packageVersion } from './core/version.js';
import type { ServiceRequest } from './core/wire/contract.js';
import { answer, loadRouter } from './service/answer.js';

/**
 * Answers one request in this process, with the providers built from scratch: the daemon's peer, for
 * CREDRELAY_NO_DAEMON=1 and whenever the daemon cannot be used.
 */
export async function answerInProcess(request: ServiceRequest): Promise<ProtocolReply> {
  return answer(request, await loadRouter(composeConfiguredRouter), packageVersion());
}
