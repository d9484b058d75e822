import { configuredStore, composeRouter } from '../../compose.js';
import { type Config, loadConfig } from '../../core/config.js';
import { CredrelayError } from '../../core/errors.js';
import type { SecretStore, StoreDescription } from '../../core/store/secret-store.js';
import { resolvePaths } from '../../core/paths.js';
import { type StoreCall, type StoreCallResult, failureError } from '../../core/wire/contract.js';
import { requestThroughDaemon } from '../../client/daemon-client.js';

/**
 * The secret store a command uses. The OS keychain, and the file store with a key file, are opened in the command's
 * own process. A file store unlocked with `credrelay unlock` has its key in the daemon's memory only, so the
 * command's calls go to the daemon, which holds it.
 */
export function commandStore(config: Config): SecretStore {
  if (config.store !== 'file' || process.env.CREDRELAY_STORE_KEY_FILE) return configuredStore(config);
  const call = async (storeCall: StoreCall): Promise<StoreCallResult> => {
    const reply = await askDaemonStore(storeCall);
    if (reply === undefined) {
      throw new CredrelayError(
        'STORE_LOCKED',
        'the credential store is locked (no daemon holds its key): run `credrelay unlock`, or set CREDRELAY_STORE_KEY_FILE to a file holding the passphrase',
      );
    }
    if (!reply.ok) throw failureError(reply);
    return reply.result;
  };
  return {
    getPassword: async (service, account) => {
      const result = await call({ method: 'getPassword', service, account });
      return typeof result === 'string' || result === null ? result : malformed();
    },
    setPassword: async (service, account, password) => {
      await call({ method: 'setPassword', service, account, password });
    },
    deletePassword: async (service, account) => {
      const result = await call({ method: 'deletePassword', service, account });
      return typeof result === 'boolean' ? result : malformed();
    },
    findCredentials: async (service) => {
      const result = await call({ method: 'findCredentials', service });
      return Array.isArray(result) ? [...result] : malformed();
    },
    // What the daemon's own store says of itself: a store not created yet lists nothing without a key, so whether a
    // listing succeeds says nothing of whether the daemon could write to it.
    describe: async () =>
      (await describedByDaemon()) ?? {
        kind: 'file',
        backend: `the encrypted file ${resolvePaths().storePath}`,
        usable: false,
        detail:
          'the credential store is locked (no daemon holds its key): run `credrelay unlock`, or set CREDRELAY_STORE_KEY_FILE to a file holding the passphrase',
      },
  };
}

const malformed = (): never => {
  throw new CredrelayError('INTERNAL', 'the daemon answered a store call with something that is not a store answer');
};

/** A call on the secret store of this environment's daemon, which is never started for it; undefined when none runs. */
const askDaemonStore = (call: StoreCall) =>
  requestThroughDaemon((v) => ({ v, op: 'store-call', call }), { start: false, notice: () => undefined });

async function describedByDaemon(): Promise<StoreDescription | undefined> {
  const reply = await askDaemonStore({ method: 'describe' }).catch(() => undefined);
  if (reply === undefined || !reply.ok) return undefined;
  const result = reply.result;
  if (typeof result !== 'object' || result === null || Array.isArray(result) || !('usable' in result)) return undefined;
  return result;
}

/** How messages name where secrets went. */
export const storeName = (config: Config): string =>
  config.store === 'file' ? 'the encrypted file store' : 'the OS keychain';

/**
 * One line on the store in use: which, from which setting, and whether it can be used now. A daemon of this
 * environment answers from its warm keychain thread (the same store, the same D-Bus session); without one, the store
 * is asked here.
 */
export async function describeStore(config: Config, store: SecretStore): Promise<string> {
  const description = (await describedByDaemon()) ?? (await store.describe?.());
  const setting = `"store": "${config.store}"`;
  if (description === undefined) return setting;
  const state = description.usable ? (description.detail ?? 'reachable') : `not usable: ${description.detail}`;
  return `${description.backend} (${setting}); ${state}`;
}

/** The router the composition root builds: the one the daemon and the in-process path answer with. */
type CommandRouter = Awaited<ReturnType<typeof composeRouter>>;

/** The user's configuration and the store a command uses (`secrets`: no router, so no provider is loaded). */
export function commandConfigAndStore(): { config: Config; store: SecretStore } {
  const config = loadConfig(resolvePaths().configPath);
  return { config, store: commandStore(config) };
}

/**
 * The user's configuration and the store a command uses, and the router they build (still being built), which the
 * command asks through the service (src/service/command-service.ts).
 */
export function commandRouting(): { config: Config; store: SecretStore; router: Promise<CommandRouter> } {
  const { config, store } = commandConfigAndStore();
  return { config, store, router: composeRouter({ config, store }) };
}

/** The user's configuration with the store a command uses, and its router. */
export async function composeCommandRouter(): Promise<{ config: Config; router: CommandRouter; store: SecretStore }> {
  const { config, store, router } = commandRouting();
  return { config, store, router: await router };
}
