import { credentialsNotFound } from './errors.js';
import type { CredentialBackend } from './protocol/handler.js';
import type { ProviderContext, StorageProvider } from './provider.js';
import { parseRegistry } from './registry/identity.js';

const NO_OPTIONS: ProviderContext = Object.freeze({ options: Object.freeze({}) });

/**
 * Answers the protocol from providers. Every server string is parsed into a registry identity first, so a
 * lookup never depends on how a client spelled the registry.
 */
export function createRouter(storage: StorageProvider): CredentialBackend {
  return {
    async get(serverURL) {
      const credential = await storage.get(parseRegistry(serverURL), NO_OPTIONS);
      if (credential === undefined) throw credentialsNotFound();
      return { username: credential.username, secret: credential.secret };
    },
    async store(credentials) {
      await storage.store(parseRegistry(credentials.ServerURL), credentials, NO_OPTIONS);
    },
    async erase(serverURL) {
      await storage.erase(parseRegistry(serverURL), NO_OPTIONS);
    },
    async list() {
      const entries = await storage.list(NO_OPTIONS);
      return new Map(entries.map((entry) => [entry.serverURL, entry.username]));
    },
  };
}
