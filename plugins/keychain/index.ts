import {
  type Credential,
  CredrelayError,
  type RegistryIdentity,
  type SecretStore,
  type StorageProvider,
  type StoredCredential,
  type StoredEntry,
} from '../../src/plugin-api.js';

/** What one keychain item holds. The account is the registry key; the server string is kept for `list`. */
interface StoredItem {
  readonly serverURL: string;
  readonly username: string;
  readonly secret: string;
}

interface KeychainProviderOptions {
  /** The OS keychain or the encrypted file store, as the configuration's `store` says. */
  readonly store: SecretStore;
  /** The keychain service the items live under, apart from everything else there. */
  readonly service: string;
}

/**
 * Long-lived credentials (passwords, personal access tokens, identity tokens) in the OS keychain (or the encrypted
 * file store, where the configuration turns it on), keyed by
 * registry identity so that every spelling of a registry finds the same entry. It is the fallback for every
 * host no other provider serves, so its matcher takes everything.
 */
export function createKeychainProvider(options: KeychainProviderOptions): StorageProvider {
  const store = options.store;
  const service = options.service;

  return {
    name: 'keychain',
    about: {
      description: 'Long-lived credentials (passwords, access tokens) stored by docker login in the OS keychain',
      hostPatterns: ['every registry no other provider serves'],
    },
    matches: () => true,

    async get(registry: RegistryIdentity): Promise<Credential | undefined> {
      const raw = await store.getPassword(service, registry.key);
      if (raw === null) return undefined;
      const item = parseItem(raw, registry.key);
      return { username: item.username, secret: item.secret };
    },

    storage: {
      async store(registry: RegistryIdentity, credential: StoredCredential): Promise<void> {
        const item: StoredItem = {
          serverURL: credential.serverURL,
          username: credential.username,
          secret: credential.secret,
        };
        await store.setPassword(service, registry.key, JSON.stringify(item));
      },

      async erase(registry: RegistryIdentity): Promise<void> {
        await store.deletePassword(service, registry.key);
      },

      async list(): Promise<readonly StoredEntry[]> {
        const items = await store.findCredentials(service);
        return items.flatMap(({ account, password }) => {
          try {
            const { serverURL, username } = parseItem(password, account);
            return [{ serverURL, username }];
          } catch {
            // An item that is not ours in shape is skipped rather than failing Docker's whole listing.
            return [];
          }
        });
      },
    },
  };
}

function parseItem(raw: string, key: string): StoredItem {
  let item: unknown;
  try {
    item = JSON.parse(raw);
  } catch {
    item = undefined;
  }
  if (typeof item === 'object' && item !== null) {
    const { serverURL, username, secret } = item as Partial<Record<keyof StoredItem, unknown>>;
    if (typeof serverURL === 'string' && typeof username === 'string' && typeof secret === 'string')
      return { serverURL, username, secret };
  }
  throw new CredrelayError(
    'KEYCHAIN_FAILED',
    `the keychain entry for ${key} is damaged: remove it with \`credrelay logout ${key}\` and log in again`,
  );
}
