import { createConfiguredBackend } from './compose.js';
import type { ProtocolAction, ProtocolReply } from './core/protocol/handler.js';
import { answerKubelet, answerProtocol, loadRouter } from './service/answer.js';
import { packageVersion } from './core/version.js';

/**
 * Answers one protocol request in this process, with the providers built from scratch: for CREDRELAY_NO_DAEMON=1,
 * and whenever the daemon cannot be used.
 */
export async function serveInProcess(action: ProtocolAction, input: Uint8Array): Promise<ProtocolReply> {
  return answerProtocol(action, input, await loadRouter(createConfiguredBackend), packageVersion());
}

/** Answers one kubelet CredentialProviderRequest in this process. */
export async function serveKubeletInProcess(input: Uint8Array): Promise<ProtocolReply> {
  return answerKubelet(input, await loadRouter(createConfiguredBackend));
}
