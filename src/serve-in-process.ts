import { createConfiguredBackend } from './backend.js';
import { toCredrelayError } from './errors.js';
import { handleKubeletRequest } from './kubelet/credential-provider.js';
import { type ProtocolAction, type ProtocolReply, handleAction } from './protocol/handler.js';
import type { Router } from './router.js';
import { packageVersion } from './version.js';

/** The router for one in-process request, or the configuration error every answer must carry. */
async function loadRouter(): Promise<Router | CredrelayFailure> {
  try {
    return await createConfiguredBackend();
  } catch (error) {
    return { failure: error };
  }
}

interface CredrelayFailure {
  readonly failure: unknown;
}

/**
 * Answers one protocol request in this process, with the providers built from scratch: for CREDRELAY_NO_DAEMON=1,
 * and whenever the daemon cannot be used.
 */
export async function serveInProcess(action: ProtocolAction, input: Uint8Array): Promise<ProtocolReply> {
  const router = await loadRouter();
  return handleAction(action, input, 'failure' in router ? failingBackend(router.failure) : router, packageVersion());
}

/** Answers one kubelet CredentialProviderRequest in this process. */
export async function serveKubeletInProcess(input: Uint8Array): Promise<ProtocolReply> {
  const router = await loadRouter();
  if ('failure' in router)
    return { stdout: '', stderr: `credrelay: ${toCredrelayError(router.failure).message}\n`, exitCode: 1 };
  return handleKubeletRequest(input, router);
}

/** A backend that answers everything with the configuration error, so the user sees it on every action. */
function failingBackend(error: unknown) {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return { get: fail, store: fail, erase: fail, list: fail };
}
