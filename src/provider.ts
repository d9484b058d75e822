import type { Credentials } from './protocol/codec.js';
import type { RegistryIdentity } from './registry/identity.js';

/** A registry credential as a provider hands it out. */
export interface Credential {
  readonly username: string;
  readonly secret: string;
  /** When the registry stops accepting it; absent for long-lived credentials such as a stored password. */
  readonly expiresAt?: Date;
}

/** One stored entry as `list` shows it: under the server string it was stored with. */
export interface StoredEntry {
  readonly serverURL: string;
  readonly username: string;
}

/** What a provider is told about the request it serves. */
export interface ProviderContext {
  /** Options of the configuration entry that routed the registry here; empty when the provider's own matcher did. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * A source of registry credentials. A provider is small: a name, a host matcher, and `get`. Only a provider that
 * owns storage (the keychain) implements `store`, `erase` and `list`.
 *
 * `get` returns `undefined` for "nothing here", which lets a router fall through to the next provider; it throws a
 * CredrelayError only for a real failure (keychain locked, cloud credentials expired), which must reach the user.
 */
export interface Provider {
  readonly name: string;
  /** The registries this provider serves without configuration. A pure function of the parsed identity. */
  matches(registry: RegistryIdentity): boolean;
  get(registry: RegistryIdentity, context: ProviderContext): Promise<Credential | undefined>;
  store?(registry: RegistryIdentity, credentials: Credentials, context: ProviderContext): Promise<void>;
  /** Erasing what is not stored succeeds, as with Docker's own helpers. */
  erase?(registry: RegistryIdentity, context: ProviderContext): Promise<void>;
  list?(context: ProviderContext): Promise<readonly StoredEntry[]>;
}

/** A provider that owns storage. */
export type StorageProvider = Provider & Required<Pick<Provider, 'store' | 'erase' | 'list'>>;
