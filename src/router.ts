import type { TokenCache } from './cache/token-cache.js';
import { type Logger, silentLogger } from './daemon/logger.js';
import { credentialsNotFound } from './errors.js';
import type { CredentialBackend } from './protocol/handler.js';
import type { ProviderContext, StorageProvider } from './provider.js';
import { parseRegistry } from './registry/identity.js';

const NO_OPTIONS: ProviderContext = Object.freeze({ options: Object.freeze({}) });

export interface RouterOptions {
  /** The daemon's cache. A helper serving in-process has none: its memory dies with it. */
  readonly cache?: TokenCache;
  readonly logger?: Logger;
}

/**
 * Answers the protocol from providers. Every server string is parsed into a registry identity first, so a
 * lookup never depends on how a client spelled the registry. Every secret that passes through is handed to the
 * logger's redaction list before anything could log it.
 */
export function createRouter(storage: StorageProvider, options: RouterOptions = {}): CredentialBackend {
  const cache = options.cache;
  const logger = options.logger ?? silentLogger;
  return {
    async get(serverURL) {
      const registry = parseRegistry(serverURL);
      const fetch = () => storage.get(registry, NO_OPTIONS);
      const credential = cache
        ? await cache.get({ provider: storage.name, identity: '', registry: registry.key }, fetch)
        : await fetch();
      if (credential === undefined) throw credentialsNotFound();
      logger.redact(credential.secret);
      return { username: credential.username, secret: credential.secret };
    },
    async store(credentials) {
      logger.redact(credentials.Secret);
      await storage.store(parseRegistry(credentials.ServerURL), credentials, NO_OPTIONS);
    },
    async erase(serverURL) {
      const registry = parseRegistry(serverURL);
      cache?.clear(registry.key);
      await storage.erase(registry, NO_OPTIONS);
    },
    async list() {
      const entries = await storage.list(NO_OPTIONS);
      return new Map(entries.map((entry) => [entry.serverURL, entry.username]));
    },
  };
}
