import { CredrelayError, toCredrelayError } from '../core/errors.js';
import { unlockFileStore } from '../core/store/file-store.js';
import type { SecretStore } from '../core/store/secret-store.js';
import { forgetUnlockedKeys } from '../core/store/store-key.js';
import type { CredrelayPaths } from '../core/paths.js';
import { type LongTimeout, setLongTimeout } from '../core/util/long-timeout.js';
import { parseRegistry } from '../core/registry/identity.js';
import {
  type DaemonStatus,
  type StoreCall,
  type StoreCallResult,
  type WireErrorCode,
  type WireOp,
  type WireReply,
  type WireRequest,
  type WireResult,
  fromWire,
} from '../core/wire/contract.js';
import { answer } from '../service/answer.js';
import { ReusePool } from '../core/util/reuse-pool.js';
import { fileCollections } from '../service/collection.js';
import type { DaemonState } from './lifecycle.js';

interface Dispatcher {
  /** The reply to one request, errors included: a request never fails the connection. */
  reply(request: WireRequest): Promise<WireReply>;
}

interface DispatchOptions {
  readonly version: string;
  readonly paths: CredrelayPaths;
  readonly state: DaemonState;
  status(): DaemonStatus;
}

type Handlers = { [Op in WireOp]: (request: WireRequest<Op>) => Promise<WireResult<Op>> | WireResult<Op> };

/** Answers each op of the wire contract with the daemon's state. */
export function createDispatcher(options: DispatchOptions): Dispatcher {
  const { version, state } = options;
  const handlers = handlersFor(options);

  const run = async <Op extends WireOp>(request: WireRequest<Op>): Promise<WireResult<Op>> => {
    if (request.op !== 'shutdown') {
      if (request.v !== version) {
        // The client's version is not echoed: it knows its own, and the field is whatever was sent.
        throw new WireError('VERSION_MISMATCH', `this daemon is version ${version}; the client is of another version`);
      }
      await state.ensureCurrentConfig();
    }
    const handler = handlers[request.op] as (request: WireRequest<Op>) => Promise<WireResult<Op>> | WireResult<Op>;
    return handler(request);
  };

  return {
    async reply(request) {
      try {
        return { ok: true, result: await run(request) };
      } catch (error) {
        if (error instanceof WireError) {
          return {
            ok: false,
            code: error.code,
            message: error.message,
            ...(error.code === 'VERSION_MISMATCH' ? { version } : {}),
          };
        }
        const { code, message } = toCredrelayError(error);
        return { ok: false, code, message };
      }
    },
  };
}

/** One handler per op of the wire contract. */
function handlersFor(options: DispatchOptions): Handlers {
  const { version, paths, state } = options;
  /** Forgets the file store's key when an unlock's time is up (`unlock --timeout`, `daemon.unlockTimeoutSeconds`). */
  let keyHold: LongTimeout | undefined;
  const collections = fileCollections(paths.runtimeDir);
  return {
    protocol: (request) => answer(fromWire(request), state.loaded(), version, collections),
    kubelet: (request) => answer(fromWire(request), state.loaded(), version),
    status: () => options.status(),
    // Any version may ask a daemon to stop: that is how a newer client replaces an older daemon.
    shutdown: () => ({ stopping: true }),
    reload: async () => {
      await state.reload('asked by a client');
      return options.status();
    },
    'cache-list': () =>
      state.cache.list().map((entry) => ({
        ...entry,
        fetchedAt: entry.fetchedAt.toISOString(),
        refreshAt: entry.refreshAt.toISOString(),
        expiresAt: entry.expiresAt.toISOString(),
      })),
    'cache-clear': (request) => {
      const registry = request.host === undefined ? undefined : parseRegistry(request.host);
      const loaded = state.loaded();
      // Clearing everything also drops what providers keep between exchanges (SDK clients and their credentials).
      if (registry === undefined) ReusePool.clearAll();
      if ('router' in loaded) return { removed: loaded.router.clearCache(registry) };
      return { removed: registry === undefined ? state.cache.clear() : 0 };
    },
    unlock: async (request) => {
      if (state.config().store !== 'file') {
        throw new CredrelayError(
          'STORE_FAILED',
          `the configuration (${paths.configPath}) keeps secrets in the OS keychain, which credrelay does not lock; set "store": "file" to use the encrypted file store`,
        );
      }
      const outcome = await unlockFileStore(paths.storePath, request.passphrase);
      const holdSeconds = request.holdSeconds ?? state.config().daemon.unlockTimeoutSeconds;
      keyHold?.clear();
      if (holdSeconds === undefined) return { outcome, storePath: paths.storePath };
      // The key goes at the bound whatever happens meanwhile (a 30-day hold included); a later unlock sets a new one.
      keyHold = setLongTimeout(() => forgetUnlockedKeys(), holdSeconds * 1000).unref();
      return { outcome, storePath: paths.storePath, until: new Date(Date.now() + holdSeconds * 1000).toISOString() };
    },
    lock: () => {
      keyHold?.clear();
      return { wasUnlocked: forgetUnlockedKeys() };
    },
    'store-call': (request) => callStore(state.store(), request.call),
  };
}

/** A CLI command's call on the daemon's secret store; its answer is the store's own. */
async function callStore(store: SecretStore, call: StoreCall): Promise<StoreCallResult> {
  switch (call.method) {
    case 'getPassword':
      return store.getPassword(call.service, call.account);
    case 'setPassword':
      await store.setPassword(call.service, call.account, call.password);
      return null;
    case 'deletePassword':
      return store.deletePassword(call.service, call.account);
    case 'findCredentials':
      return store.findCredentials(call.service);
    case 'describe':
      return (await store.describe?.()) ?? null;
  }
}

/** An error answered to the client as it is (codes of the wire, not of the protocol). */
class WireError extends Error {
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
  }
}
