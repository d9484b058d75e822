import type { TokenCache } from '../cache/token-cache.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { CredrelayError, credentialsNotFound } from '../core/errors.js';
import type { CredentialBackend, RequestContext } from '../core/protocol/handler.js';
import type { Credential, Provider, ProviderContext } from '../core/provider.js';
import type { ProviderSet } from './provider-set.js';
import { type RegistryIdentity, parseRegistry } from '../core/registry/identity.js';
import { RouteTable } from './route-table.js';

/** Where a registry goes, and why: what `credrelay route` explains. */
export interface RoutingDecision {
  readonly registry: RegistryIdentity;
  readonly provider: Provider;
  readonly options: Readonly<Record<string, unknown>>;
  readonly reason:
    | { readonly kind: 'registries'; readonly key: string }
    | { readonly kind: 'matcher' }
    | { readonly kind: 'fallback' };
}

export interface RouterOptions {
  /** The daemon's cache. A helper serving in-process has none: its memory dies with it. */
  readonly cache?: TokenCache;
  readonly logger?: Logger;
  /** Resolves `$NAME` references and named secrets (keychain, then environment). */
  readonly resolveSecret?: (name: string) => Promise<string>;
}

/** The registry part of the cache key of a provider whose one token serves all its registries. */
export const EVERY_REGISTRY = '*';

export interface Router extends CredentialBackend {
  decide(registry: RegistryIdentity): RoutingDecision;
  /** Every provider, in routing order (matchers first, the keychain last). */
  providers(): readonly Provider[];
  /** The credential for a registry, with its expiry; undefined when its provider has nothing. */
  credentialFor(registry: RegistryIdentity, request: RequestContext): Promise<Credential | undefined>;
  /** Forgets cached tokens for one registry (including a token its provider shares across registries), or all. */
  clearCache(registry?: RegistryIdentity): number;
}

/** The cache identity of a request: the provider's own notion, or its options. */
const identityOf = (provider: Provider, options: Readonly<Record<string, unknown>>): string =>
  provider.cacheIdentity?.(options) ?? JSON.stringify(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1)));

/**
 * Sends each registry to one provider, in this order: an explicit `registries` entry (exact keys, then the most
 * specific glob), then each provider's own host matcher, then the keychain. Matching works on the parsed registry
 * identity only, never on the raw string. A registry routed to a provider that has nothing is "not found"; a
 * provider's failure is its own error, never turned into "not found".
 */
export function createRouter(providers: ProviderSet, options: RouterOptions = {}): Router {
  const cache = options.cache;
  const logger = options.logger ?? silentLogger;
  const resolveSecret =
    options.resolveSecret ??
    (async (name: string) => {
      throw new CredrelayError('SECRET_MISSING', `secret ${name} is not set: run \`credrelay secrets set ${name}\``);
    });
  const resolveAndRedact = async (name: string): Promise<string> => {
    const value = await resolveSecret(name);
    logger.redact(value);
    return value;
  };
  const routes = new RouteTable(providers.routes);
  const NO_OPTIONS = Object.freeze({});

  const decide = (registry: RegistryIdentity): RoutingDecision => {
    const route = routes.lookup(registry);
    if (route !== undefined) {
      return {
        registry,
        provider: providers.byName.get(route.provider)!,
        options: route.options,
        reason: { kind: 'registries', key: route.written },
      };
    }
    const matched = providers.matchers.find((provider) => provider.matches(registry));
    if (matched !== undefined) return { registry, provider: matched, options: NO_OPTIONS, reason: { kind: 'matcher' } };
    return { registry, provider: providers.keychain, options: NO_OPTIONS, reason: { kind: 'fallback' } };
  };

  const contextFor = (decision: RoutingDecision, request: RequestContext): ProviderContext => ({
    options: decision.options,
    notice: (line) => request.notice(line),
    logger,
    resolveSecret: resolveAndRedact,
  });
  const cacheRegistry = (decision: RoutingDecision): string =>
    decision.provider.sharesTokenAcrossRegistries ? EVERY_REGISTRY : decision.registry.key;
  const clearCache = (registry?: RegistryIdentity): number => {
    if (cache === undefined) return 0;
    if (registry === undefined) return cache.clear();
    const decision = decide(registry);
    const shared = cacheRegistry(decision);
    return cache.clear(
      (entry) =>
        entry.registry === registry.key || (entry.registry === shared && entry.provider === decision.provider.name),
    );
  };

  const credentialFor = async (
    registry: RegistryIdentity,
    request: RequestContext,
  ): Promise<Credential | undefined> => {
    const decision = decide(registry);
    const { provider } = decision;
    const fetch = () => provider.get(registry, contextFor(decision, request));
    const credential = cache
      ? await cache.get(
          {
            provider: provider.name,
            identity: identityOf(provider, decision.options),
            registry: cacheRegistry(decision),
          },
          fetch,
        )
      : await fetch();
    if (credential !== undefined) logger.redact(credential.secret);
    return credential;
  };

  return {
    decide,
    clearCache,
    credentialFor,
    providers: () => [...providers.matchers, providers.keychain],
    async get(serverURL, request) {
      const credential = await credentialFor(parseRegistry(serverURL), request);
      if (credential === undefined) throw credentialsNotFound();
      return { username: credential.username, secret: credential.secret };
    },

    async store(credentials, request) {
      logger.redact(credentials.Secret);
      const decision = decide(parseRegistry(credentials.ServerURL));
      if (decision.provider.store === undefined) {
        // `docker login` to a registry whose tokens credrelay mints must not fail; there is just nothing to keep.
        request.notice(
          `credrelay: ${decision.registry.key} is served by the ${decision.provider.name} provider, which mints its own credentials; nothing was stored`,
        );
        return;
      }
      await decision.provider.store(decision.registry, credentials, contextFor(decision, request));
    },
    async erase(serverURL, request) {
      const decision = decide(parseRegistry(serverURL));
      clearCache(decision.registry);
      if (decision.provider.erase === undefined) {
        request.notice(
          `credrelay: ${decision.registry.key} is served by the ${decision.provider.name} provider; nothing is stored to erase (cached tokens were dropped)`,
        );
        return;
      }
      await decision.provider.erase(decision.registry, contextFor(decision, request));
    },
    async list(request) {
      const listed = new Map<string, string>();
      for (const provider of providers.byName.values()) {
        if (provider.list === undefined) continue;
        const context: ProviderContext = {
          options: NO_OPTIONS,
          notice: (line) => request.notice(line),
          logger,
          resolveSecret: resolveAndRedact,
        };
        for (const entry of await provider.list(context)) listed.set(entry.serverURL, entry.username);
      }
      return listed;
    },
  };
}
