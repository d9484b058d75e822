import { toCredrelayError } from '../core/errors.js';
import { type CredentialHelper, type ProtocolReply, handleAction } from '../core/protocol/handler.js';
import type { ServiceRequest } from '../core/wire/contract.js';
import { handleKubeletRequest } from '../kubelet/credential-provider.js';
import type { Router } from '../routing/router.js';
import type { Collections } from './collection.js';

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

/**
 * Answers one protocol or kubelet request with a loaded router: the one place where a helper's request is answered,
 * used by the daemon and by the in-process path alike.
 */
export async function answer(
  request: ServiceRequest,
  loaded: LoadedRouter,
  version: string,
  collections?: Collections,
): Promise<ProtocolReply> {
  if (request.kind === 'protocol') {
    const helper = 'router' in loaded ? loaded.router : failingHelper(loaded.failure);
    const reply = await handleAction(request.action, request.input, helper, version);
    if (collections === undefined || request.caller === undefined) return reply;
    if (request.action === 'list') collections.listed(request.caller, reply);
    if (request.action === 'get')
      return collections.failedGet(request.caller, new TextDecoder().decode(request.input), reply);
    return reply;
  }
  if ('failure' in loaded) {
    return { stdout: '', stderr: `credrelay: ${toCredrelayError(loaded.failure).message}\n`, exitCode: 1 };
  }
  return handleKubeletRequest(request.input, loaded.router);
}

/** A helper that answers everything with the configuration error, so the user sees it on every action. */
function failingHelper(error: unknown): CredentialHelper {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return { get: fail, store: fail, erase: fail, list: fail };
}
