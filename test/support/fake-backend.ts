import { credentialsNotFound } from '../../src/core/errors.js';
import type { CredentialHelper } from '../../src/core/protocol/handler.js';

/** An in-memory helper keyed by the raw server string, as the reference helpers key theirs. */
export function fakeBackend(): CredentialHelper & { entries: Map<string, { username: string; secret: string }> } {
  const entries = new Map<string, { username: string; secret: string }>();
  return {
    entries,
    async get(serverURL) {
      const entry = entries.get(serverURL);
      if (!entry) throw credentialsNotFound();
      return entry;
    },
    async store(credentials) {
      entries.set(credentials.ServerURL, { username: credentials.Username, secret: credentials.Secret });
    },
    async erase(serverURL) {
      entries.delete(serverURL);
    },
    async list() {
      return new Map([...entries].map(([serverURL, { username }]) => [serverURL, username]));
    },
  };
}
