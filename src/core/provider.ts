import type { Logger } from './logger.js';
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

/** What `docker login` hands to `store`: the entry and its secret. */
export interface StoredCredential extends StoredEntry {
  readonly secret: string;
}

/** A route's options, as validated against the provider's `routes.options` when the configuration loaded. */
export type RouteOptionValues = Readonly<Record<string, unknown>>;

/** What a provider is told about the request it serves. */
export interface ProviderContext {
  /** Options of the `registries` entry that routed the registry here; empty when the provider's own matcher did. */
  readonly options: RouteOptionValues;
  /** Says something to the user's terminal (stderr); never a secret. */
  notice(line: string): void;
  /** The daemon's log (secrets passed to `redact` are masked in it). */
  readonly logger: Logger;
  /**
   * The value of a named secret: credrelay's secrets in the keychain, then the caller's environment. Throws an error
   * that names the secret and how to set it when it is set nowhere. The value is added to the log's redaction list.
   */
  resolveSecret(name: string): Promise<string>;
  /**
   * The pod kubelet pulls for, when kubelet passed its service-account token and the provider's `podIdentity` said
   * it acts as that pod for these options. Absent everywhere else: the provider then acts as the node (or the user).
   */
  readonly podIdentity?: PodIdentity;
}

/**
 * A pod's identity as kubelet hands it to an image credential provider (Kubernetes 1.33+, KEP-4412): the pod's
 * service-account token, minted for the audience in kubelet's `tokenAttributes`, and the service account's
 * annotations kubelet was told to pass. The token is a secret: never logged, never written anywhere.
 */
export interface PodIdentity {
  readonly token: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** From the token's claims, unverified: the cloud that accepts the token verifies it. For names and messages. */
  readonly namespace: string;
  readonly serviceAccount: string;
}

/**
 * A source of registry credentials. The required core is small: a name, a host matcher and `get`, as
 * go-containerregistry's Keychain resolves a registry to an authenticator. Everything else is an optional
 * capability, each its own object, that the router, the cache, the CLI and doctor look for.
 *
 * `get` returns `undefined` for "nothing here", which lets the router answer "not found" (Docker then pulls
 * anonymously); it throws a CredrelayError only for a real failure (keychain locked, cloud credentials expired),
 * whose message must say what failed and what to do.
 */
export interface Provider {
  /** Lower-case letters, digits and dashes; what `registries` entries name in `provider`. */
  readonly name: string;
  /** The registries this provider serves without configuration. A pure function of the parsed identity. */
  matches(registry: RegistryIdentity): boolean;
  get(registry: RegistryIdentity, context: ProviderContext): Promise<Credential | undefined>;

  /** For people (`credrelay providers`). */
  readonly about?: ProviderAbout;
  /** The options a `registries` entry may give this provider; without it, an entry may give none. */
  readonly routes?: RouteSupport;
  /** How the daemon's cache keys this provider's tokens. */
  readonly cachePolicy?: CachePolicy;
  /** For a provider that owns storage (the keychain): `docker login`, `logout` and `list` reach it. */
  readonly storage?: CredentialStorage;
  /** For `credrelay doctor`. */
  readonly diagnostics?: Diagnostics;
  /** For a provider that can act as the pod kubelet pulls for (its service-account token), not the node. */
  readonly podIdentity?: PodIdentitySupport;
}

export interface ProviderAbout {
  /** One line. */
  readonly description: string;
  /** The hosts `matches` accepts, written for people: `<account>.dkr.ecr.<region>.amazonaws.com`. */
  readonly hostPatterns: readonly string[];
  /**
   * The environment variables the provider, and the libraries and programs it runs, read (`NAME`, or `NAME_*` for a
   * family). Every variable separates callers whether declared or not; declaring says which the provider passes to
   * programs it runs, shows in `credrelay providers`, and lets a test check that none is one the daemon ignores.
   */
  readonly reads?: readonly string[];
}

/** One option a provider accepts in a `registries` entry. */
export interface OptionSpec {
  /** `list`: a list of strings (a command's argument vector). */
  readonly type: 'string' | 'number' | 'boolean' | 'list';
  readonly description: string;
  /** A string must match this; the description says what it should look like. */
  readonly pattern?: RegExp;
  /** A number must be an integer within these bounds, inclusive. */
  readonly range?: readonly [number, number];
  readonly required?: boolean;
}

export interface RouteSupport {
  /** Anything else in an entry is a configuration error. */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** A problem with an entry that routes `pattern` here, found when the configuration loads. */
  check?(pattern: RegistryPattern, options: RouteOptionValues): string | undefined;
  /**
   * The user name `list` shows for a registry an entry routes here by exact host, known without fetching anything
   * (ECR's `AWS`, a literal `username` option). Without it, or when it is undefined, `list` shows an empty one.
   */
  listedUsername?(options: RouteOptionValues): string | undefined;
}

export interface CachePolicy {
  /**
   * Who the provider acts as for these options (an AWS profile or role, a Google principal): part of the cache key,
   * so two identities never share a token. Defaults to the options themselves.
   */
  identity?(options: RouteOptionValues): string;
  /**
   * True when one token serves every registry of the provider for an identity (a Google OAuth token opens gcr.io
   * and every pkg.dev host alike), so the cache keeps one per identity instead of one per registry.
   */
  readonly sharedAcrossRegistries?: boolean;
  /**
   * How long the daemon keeps a credential that has no expiry of its own (a long-lived token read from elsewhere),
   * so that a rotated one is picked up after that. Without it, such a credential is not cached.
   */
  keepSeconds?(options: RouteOptionValues): number;
}

export interface PodIdentitySupport {
  /**
   * Whether the provider acts as this pod for these route options: it has what it needs to (a role, a workload
   * identity provider, a client, named by the route or the service account's annotations). When false, the request
   * is answered as the node, as one without a token is.
   */
  uses(pod: PodIdentity, options: RouteOptionValues): boolean;
  /** The service-account annotations it reads: for kubelet's `optionalServiceAccountAnnotationKeys`, and messages. */
  annotations(options: RouteOptionValues): readonly string[];
}

export interface CredentialStorage {
  store(registry: RegistryIdentity, credential: StoredCredential, context: ProviderContext): Promise<void>;
  /** Erasing what is not stored succeeds, as with Docker's own helpers. */
  erase(registry: RegistryIdentity, context: ProviderContext): Promise<void>;
  /** Never a network call: Docker calls `list` freely. */
  list(context: ProviderContext): Promise<readonly StoredEntry[]>;
}

export interface Diagnostics {
  /**
   * Proves that a credential can be obtained for this registry and options, and says as whom ("AWS identity arn:…",
   * "Application Default Credentials"), never with a secret. Throws a CredrelayError otherwise.
   */
  diagnose(registry: RegistryIdentity, context: ProviderContext): Promise<string>;
}

/** A provider that owns storage. */
export type StorageProvider = Provider & { readonly storage: CredentialStorage };

export const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** A string option of a `registries` entry, or undefined (options are validated at load, so this is only typing). */
export const stringOption = (options: RouteOptionValues, key: string): string | undefined => {
  const value = options[key];
  return typeof value === 'string' ? value : undefined;
};

/** Whether a value fits an option's spec: its type, and its pattern or range where given. */
export function optionValueFits(spec: OptionSpec, value: unknown): boolean {
  if (spec.type === 'list')
    return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string');
  if (typeof value !== spec.type) return false;
  if (typeof value === 'string') return spec.pattern === undefined || spec.pattern.test(value);
  if (typeof value === 'number') {
    return spec.range === undefined || (Number.isInteger(value) && value >= spec.range[0] && value <= spec.range[1]);
  }
  return true;
}
