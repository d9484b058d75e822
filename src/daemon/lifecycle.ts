import { statSync } from 'node:fs';
import { TokenCache } from '../cache/token-cache.js';
import { composeRouter, configuredStore } from '../compose.js';
import { type Config, loadConfig, parseConfig } from '../core/config.js';
import { toCredrelayError } from '../core/errors.js';
import type { SecretStore } from '../core/store/secret-store.js';
import { forgetUnlockedKeys, holdsUnlockedKeys } from '../core/store/store-key.js';
import { ReusePool } from '../core/util/reuse-pool.js';
import type { Logger } from '../core/logger.js';
import type { CredrelayPaths } from '../core/paths.js';
import { type LongTimeout, setLongTimeout } from '../core/util/long-timeout.js';
import type { LoadedRouter } from '../service/answer.js';

/** What the daemon serves with: the configuration as saved, its router and store, and the token cache. */
export interface DaemonState {
  readonly cache: TokenCache;
  config(): Config;
  loaded(): LoadedRouter;
  store(): SecretStore;
  /** Re-reads the configuration when its file changed since it was loaded. */
  ensureCurrentConfig(): Promise<void>;
  /** Re-reads the configuration; a bad one is logged and becomes every request's error until it is fixed. */
  reload(reason: string): Promise<void>;
}

/**
 * Loads the configuration and keeps it current. A configuration that cannot be read or built is held as the answer
 * to every request, as in-process; the daemon runs anyway, so that nobody waits on a daemon that cannot start.
 */
export async function loadDaemonState(
  paths: CredrelayPaths,
  logger: Logger,
  clock: () => number,
  onReloaded: () => void,
): Promise<DaemonState> {
  const cache = new TokenCache({ clock, logger });
  let config: Config = parseConfig({}, paths.configPath);
  let store: SecretStore = configuredStore(config, paths.storePath);
  let loaded: LoadedRouter = { failure: undefined };
  const load = async (): Promise<void> => {
    try {
      const next = loadConfig(paths.configPath);
      const nextStore = configuredStore(next, paths.storePath);
      loaded = { router: await composeRouter({ config: next, store: nextStore, cache, logger }) };
      config = next;
      store = nextStore;
    } catch (error) {
      loaded = { failure: error };
      throw error;
    }
  };
  const rejected = (reason: string | undefined) => (error: unknown) =>
    logger.error('configuration rejected; every request fails with its error until it is fixed', {
      reason,
      error: toCredrelayError(error).message,
    });
  await load().catch(rejected(undefined));

  // Reloads run one after another, so that a slow plugin import cannot let an older file win over a newer one.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (reason: string): Promise<void> =>
    (reloading = reloading.then(() =>
      load().then(() => {
        onReloaded();
        logger.info('configuration reloaded', { reason, idleTimeoutSeconds: config.daemon.idleTimeoutSeconds });
      }, rejected(reason)),
    ));

  // The configuration as saved, for every request: its file's identity is checked before each one, so a request
  // that starts after the file was written, created, replaced by rename or deleted sees the new file. A stat
  // costs microseconds; polling would leave a window in which a request is routed by the old file.
  let loadedIdentity = configIdentity(paths.configPath);
  const ensureCurrentConfig = async (): Promise<void> => {
    const identity = configIdentity(paths.configPath);
    if (identity === loadedIdentity) return;
    loadedIdentity = identity;
    await reload('config file changed');
  };

  return { cache, config: () => config, loaded: () => loaded, store: () => store, ensureCurrentConfig, reload };
}

/** What tells one saved configuration file from another: inode, size and modification time (or its absence). */
function configIdentity(path: string): string {
  try {
    const stats = statSync(path, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch (error) {
    return `absent:${(error as NodeJS.ErrnoException).code ?? ''}`;
  }
}

/**
 * Exits the daemon after the configured idle time without requests. Not while a request runs, and not while the
 * daemon holds the file store's key: exiting would lock the store behind the user's back. Armed by the first `touch`.
 */
export function idleTimer(
  idleSeconds: () => number,
  activeRequests: () => number,
  onIdle: () => void,
  onStay: (reason: string) => void = () => undefined,
) {
  let timer: LongTimeout | undefined;
  const touch = (): void => {
    timer?.clear();
    // A long timeout (a node's daemon set to a year) waits that long: Node's own timers would fire at once.
    timer = setLongTimeout(() => {
      const reason =
        activeRequests() > 0
          ? 'a request is running'
          : holdsUnlockedKeys()
            ? "it holds the file store's key"
            : undefined;
      if (reason === undefined) return onIdle();
      onStay(reason);
      touch();
    }, idleSeconds() * 1000);
  };
  return { touch, stop: () => timer?.clear() };
}

/** Forgets everything the daemon holds in memory: the file store's keys and the token cache. */
export function forgetSecrets(state: DaemonState): void {
  forgetUnlockedKeys();
  ReusePool.clearAll();
  state.cache.close();
}
