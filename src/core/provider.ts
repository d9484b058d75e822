import type { Logger } from './logger.js';
import type { Credentials } from './protocol/codec.js';
import type { RegistryIdentity } from './registry/identity.js';
import type { RegistryPattern } from './registry/registry-pattern.js';

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
  /** Options of the `registries` entry that routed the registry here; empty when the provider's own matcher did. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Says something to the user's terminal (stderr); never a secret. */
  notice(line: string): void;
  /** The daemon's log (secrets passed to `redact` are masked in it). */
  readonly logger: Logger;
  /**
   * The value of a named secret: credrelay's secrets in the OS keychain, then the environment. Throws an error that
   * names the secret and how to set it when it is set nowhere. The value is added to the log's redaction list.
   */
  resolveSecret(name: string): Promise<string>;
}

/** One option a provider accepts in a `registries` entry. */
export interface OptionSpec {
  readonly type: 'string';
  readonly description: string;
  /** The value must match this; the description says what it should look like. */
  readonly pattern?: RegExp;
  readonly required?: boolean;
}

/**
 * A source of registry credentials. A provider is small: a name, a host matcher, and `get`. Only a provider that
 * owns storage (the keychain) implements `store`, `erase` and `list`.
 *
 * `get` returns `undefined` for "nothing here", which lets the router answer "not found" (Docker then pulls
 * anonymously); it throws a CredrelayError only for a real failure (keychain locked, cloud credentials expired),
 * whose message must say what failed and what to do.
 */
export interface Provider {
  /** Lower-case letters, digits and dashes; what `registries` entries name in `provider`. */
  readonly name: string;
  /** One line for `credrelay providers`. */
  readonly description: string;
  /** The hosts `matches` accepts, for people: `<account>.dkr.ecr.<region>.amazonaws.com`. */
  readonly hostPatterns: readonly string[];
  /** The options a `registries` entry may give this provider; anything else is a configuration error. */
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** The registries this provider serves without configuration. A pure function of the parsed identity. */
  matches(registry: RegistryIdentity): boolean;
  /** A problem with a `registries` entry that routes `pattern` here, found when the configuration loads. */
  checkEntry?(pattern: RegistryPattern, options: Readonly<Record<string, unknown>>): string | undefined;
  /**
   * Who the provider acts as for these options (an AWS profile or role, a Google principal): part of the cache key,
   * so two identities never share a token. Defaults to the options themselves.
   */
  cacheIdentity?(options: Readonly<Record<string, unknown>>): string;
  /**
   * True when one token serves every registry of the provider for an identity (a Google OAuth token opens gcr.io
   * and every pkg.dev host alike), so the cache keeps one per identity instead of one per registry.
   */
  readonly sharesTokenAcrossRegistries?: boolean;
  get(registry: RegistryIdentity, context: ProviderContext): Promise<Credential | undefined>;
  /**
   * For `credrelay doctor`: proves that a credential can be obtained for this registry and options, and says as whom
   * ("AWS identity arn:…", "Application Default Credentials"), never with a secret. Throws a CredrelayError otherwise.
   */
  diagnose?(registry: RegistryIdentity, context: ProviderContext): Promise<string>;
  store?(registry: RegistryIdentity, credentials: Credentials, context: ProviderContext): Promise<void>;
  /** Erasing what is not stored succeeds, as with Docker's own helpers. */
  erase?(registry: RegistryIdentity, context: ProviderContext): Promise<void>;
  /** Never a network call: Docker calls `list` freely. */
  list?(context: ProviderContext): Promise<readonly StoredEntry[]>;
}

/** A provider that owns storage. */
export type StorageProvider = Provider & Required<Pick<Provider, 'store' | 'erase' | 'list'>>;

export const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** A string option of a `registries` entry, or undefined (options are validated at load, so this is only typing). */
export const stringOption = (options: Readonly<Record<string, unknown>>, key: string): string | undefined =>
  typeof options[key] === 'string' ? (options[key] as string) : undefined;
