import { createKeychainProvider } from '../plugins/keychain/index.js';
import { type ProtocolAction, type ProtocolReply, handleAction } from './protocol/handler.js';
import { createRouter } from './router.js';
import { packageVersion } from './version.js';

/** Answers one protocol request in this process, with the providers built from scratch. */
export function serveInProcess(action: ProtocolAction, input: Uint8Array): Promise<ProtocolReply> {
  return handleAction(action, input, createRouter(createKeychainProvider()), packageVersion());
}
