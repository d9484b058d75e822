/**
 * The composition root: configuration → secret store → providers (the keychain, the built-in cloud providers, the
 * configuration's plugins) → router. The only module in src/ that imports plugins/; the daemon, the in-process path
 * and the CLI all build their router here, so they answer alike.
 */
import { createKeychainProvider } from '../plugins/keychain/index.js';
import { createEcrProvider } from '../plugins/ecr/index.js';
import { createGarProvider } from '../plugins/gar/index.js';
import { createStaticProvider } from '../plugins/static/index.js';
import { createExecProvider } from '../plugins/exec/index.js';
import { createGhcrProvider } from '../plugins/ghcr/index.js';
import { createAcrProvider } from '../plugins/acr/index.js';
import { createDockerHubProvider } from '../plugins/dockerhub/index.js';
import type { TokenCache } from './cache/token-cache.js';
import { type Config, loadConfig } from './core/config.js';
import type { Logger } from './core/logger.js';
import { openStore } from './core/store/open-store.js';
import { REGISTRY_SERVICE, type SecretStore } from './core/store/secret-store.js';
import { resolvePaths } from './core/paths.js';
import type { Provider } from './core/provider.js';
import { createSecretResolver, createNamedSecrets } from './core/secrets/named-secrets.js';
import { type ManagedSecrets, createManagedSecrets } from './core/secrets/managed-secrets.js';
import { silentLogger } from './core/logger.js';
import { builtinSecretSources } from '../plugins/secret-sources/index.js';
import { type JobTokens, createJobTokens, jobCacheIdentity } from './routing/job-identity.js';
import { loadProviderSet } from './routing/provider-set.js';
import { type Router, createRouter } from './routing/router.js';

interface CompositionOptions {
  readonly config: Config;
  /** Where long-lived secrets live; defaults to the store the configuration names. */
  readonly store?: SecretStore;
  readonly cache?: TokenCache;
  readonly logger?: Logger;
}

/** The providers that ship with credrelay besides the keychain, in the order their host matchers are consulted. */
export const builtinProviders = (): Provider[] => [
  createEcrProvider(),
  createGarProvider(),
  createGhcrProvider(),
  createAcrProvider(),
  createDockerHubProvider(),
  createStaticProvider(),
  createExecProvider(),
];

/**
 * Builds what answers the protocol from a configuration, the same in the daemon and in a helper process: the
 * keychain, the built-in cloud providers, the configuration's plugins and its routes. Fails on an invalid route.
 */
export async function composeRouter(options: CompositionOptions): Promise<Router> {
  const store = options.store ?? configuredStore(options.config);
  const keychain = createKeychainProvider({ store, service: REGISTRY_SERVICE });
  const providers = await loadProviderSet(options.config, keychain, builtinProviders());
  const jobTokens = createJobTokens();
  const managed = configuredSecrets(options.config, { ...options, jobTokens });
  return createRouter(providers, {
    resolveSecret: createSecretResolver(createNamedSecrets(store), process.env, managed),
    podSecrets: Object.values(options.config.secrets).some((binding) => binding.podIdentity === true),
    jobTokens,
    ...(options.cache ? { cache: options.cache } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/**
 * The configuration's `secrets`, bound to the built-in sources: with the daemon's cache, values are kept for their
 * `ttlSeconds`; without one (in-process, the CLI), each is fetched when read.
 */
export function configuredSecrets(
  config: Config,
  options: { readonly cache?: TokenCache; readonly logger?: Logger; readonly jobTokens?: JobTokens } = {},
): ManagedSecrets {
  const cache = options.cache;
  const jobTokens = options.jobTokens ?? createJobTokens();
  return createManagedSecrets({
    bindings: config.secrets,
    sources: builtinSecretSources(),
    logger: options.logger ?? silentLogger,
    configPath: config.path,
    ...(cache === undefined
      ? {}
      : {
          keep: async ({ name, where, binding, caller }, fetch, keepMs) =>
            (await cache.get(
              {
                provider: `secret ${binding.from}`,
                // Read as a CI job or a pod, the value is that caller's: the next job on the runner, or another
                // pod on the node, is keyed apart.
                identity: caller === undefined ? where : `${where} as ${caller}`,
                registry: `$${name}`,
              },
              async () => ({ username: '', secret: await fetch() }),
              keepMs,
            ))!.secret,
        }),
    jobIdentity: async (binding) => {
      const identity = await jobTokens.identity(binding.jobIdentity!);
      return { token: identity.token, caller: jobCacheIdentity(identity) };
    },
  });
}

/** The secret store a configuration names (`"store"`), at the user's paths: the keychain capability. */
export const configuredStore = (config: Config, storePath = resolvePaths().storePath): SecretStore =>
  openStore({ setting: config.store, filePath: storePath, configPath: config.path });

/** The router of the user's configuration file (`$CREDRELAY_CONFIG`, or the XDG default), for one process. */
export const composeConfiguredRouter = (): Promise<Router> =>
  composeRouter({ config: loadConfig(resolvePaths().configPath) });
