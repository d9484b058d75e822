import { toCredrelayError } from '../core/errors.js';
import { handleKubeletRequest } from '../kubelet/credential-provider.js';
import { type CredentialBackend, type ProtocolAction, type ProtocolReply, handleAction } from '../core/protocol/handler.js';
import type { Router } from '../routing/router.js';

/**
 * The router a configuration builds, or the error building it failed with. A broken configuration is not a reason
 * to answer differently: in the daemon and in-process alike, every request that needs it fails with that error,
 * which names the file, the place and the fix.
 */
export type LoadedRouter = { readonly router: Router } | { readonly failure: unknown };

export async function loadRouter(build: () => Promise<Router>): Promise<LoadedRouter> {
  try {
    return { router: await build() };
  } catch (error) {
    return { failure: error };
  }
}

/** Answers one protocol action with a loaded router: the one place the daemon and the in-process path share. */
export function answerProtocol(
  action: ProtocolAction,
  input: Uint8Array,
  loaded: LoadedRouter,
  version: string,
): Promise<ProtocolReply> {
  return handleAction(action, input, 'router' in loaded ? loaded.router : failingBackend(loaded.failure), version);
}

/** Answers one kubelet CredentialProviderRequest with a loaded router. */
export async function answerKubelet(input: Uint8Array, loaded: LoadedRouter): Promise<ProtocolReply> {
  if ('failure' in loaded) {
    return { stdout: '', stderr: `credrelay: ${toCredrelayError(loaded.failure).message}\n`, exitCode: 1 };
  }
  return handleKubeletRequest(input, loaded.router);
}

/** A backend that answers everything with the configuration error, so the user sees it on every action. */
function failingBackend(error: unknown): CredentialBackend {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return { get: fail, store: fail, erase: fail, list: fail };
}
