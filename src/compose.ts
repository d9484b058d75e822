import { createKeychainProvider } from '../plugins/keychain/index.js';
import { builtinProviders } from './builtin-providers.js';
import type { TokenCache } from './cache/token-cache.js';
import { type Config, loadConfig } from './core/config.js';
import type { Logger } from './core/logger.js';
import { openCredentialStore } from './core/keychain/credential-store.js';
import type { SecretStore } from './core/keychain/secret-store.js';
import { resolvePaths } from './core/paths.js';
import { loadProviderSet } from './routing/provider-set.js';
import { createSecretResolver, createSecretVault } from './core/secrets/secret-vault.js';
import { type Router, createRouter } from './routing/router.js';

export interface BackendOptions {
  readonly config: Config;
  /** Where long-lived secrets live; defaults to the store the configuration names. */
  readonly store?: SecretStore;
  readonly cache?: TokenCache;
  readonly logger?: Logger;
}

/**
 * Builds what answers the protocol from a configuration, the same in the daemon and in a helper process: the
 * keychain, the built-in cloud providers, the configuration's plugins and its routes. Fails on an invalid route.
 */
export async function createBackend(options: BackendOptions): Promise<Router> {
  const store = options.store ?? configuredStore(options.config);
  const providers = await loadProviderSet(options.config, createKeychainProvider({ store }), builtinProviders());
  return createRouter(providers, {
    resolveSecret: createSecretResolver(createSecretVault(store)),
    ...(options.cache ? { cache: options.cache } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** The secret store a configuration names (`"store"`), at the user's paths. */
export const configuredStore = (config: Config, storePath = resolvePaths().storePath): SecretStore =>
  openCredentialStore({ setting: config.store, filePath: storePath });

/** The router of the user's configuration file (`$CREDRELAY_CONFIG`, or the XDG default), for one process. */
export const createConfiguredBackend = (): Promise<Router> =>
  createBackend({ config: loadConfig(resolvePaths().configPath) });
