/**
 * Everything a provider may import from credrelay (`import { CredrelayError } from 'credrelay/provider'`). The
 * built-in providers in plugins/ import this module and nothing else of credrelay's, exactly as a third-party plugin
 * does; the lint rule in scripts/lint/import-direction.js keeps it so. See docs/plugins.md.
 */
import { resolvePaths, wrappedProgramEnvironment } from './core/paths.js';

export { CredrelayError, type ErrorCode, credentialsNotFound, isCredrelayError } from './core/errors.js';
export type { LogFields, Logger } from './core/logger.js';
export { silentLogger } from './core/logger.js';
export {
  type CachePolicy,
  type Credential,
  type CredentialStorage,
  type Diagnostics,
  type OptionSpec,
  type PodIdentity,
  type PodIdentitySupport,
  PROVIDER_NAME,
  type Provider,
  type ProviderAbout,
  type ProviderContext,
  type RouteOptionValues,
  type RouteSupport,
  type StorageProvider,
  type StoredCredential,
  type StoredEntry,
  stringOption,
} from './core/provider.js';
export { type RegistryIdentity, isLoopback, parseRegistry } from './core/registry/identity.js';
export { isLoopbackHost } from './core/util/loopback.js';
export type { RegistryPattern } from './core/registry/registry-pattern.js';
/** The keychain capability a storage provider is handed by the composition root (OS keychain or file store). */
export type { FoundCredential, SecretStore } from './core/store/secret-store.js';
/** `$NAME` references in route options, resolved through `ProviderContext.resolveSecret`. */
export { SECRET_NAME, referencedSecret } from './core/secrets/secret-name.js';
/**
 * The environment a provider runs a program with (a credential helper, `gh`): what any program needs (home, user,
 * PATH, locale, session bus, proxies, CA files, XDG directories), every variable the configuration names
 * (`"environment"`), and the `extra` names the provider's own program reads; never other providers' credentials
 * (`AWS_*`, `GOOGLE_*`, `AZURE_*`, GitHub tokens). All of it is in the caller's environment as the daemon serves it,
 * so a program answers alike through the daemon and in-process.
 */
export const programEnvironment = (extra: readonly string[] = []): Readonly<Record<string, string>> => {
  const paths = resolvePaths();
  return wrappedProgramEnvironment(paths.daemonEnvironment, paths.configPath, extra);
};
/** `docker-credential-<name>` (or any program) found on PATH as Docker finds it, absolute entries only. */
export { findCredentialHelper, findOnPath } from './core/util/credential-helper-path.js';
/** Runs a program with a deadline that holds whatever its descendants do, and a bound on its output. */
export { type ProgramRun, runProgram } from './core/util/run-program.js';
/** Deadlines: every network call of a provider has one. */
export { withDeadline } from './core/util/deadline.js';
/** Error codes of Node's network failures, for telling "cannot reach" from "refused". */
export { NETWORK_ERROR_CODES } from './core/util/network-errors.js';
/** One HTTP request with a deadline and a bounded answer; plain HTTP only to this machine. */
export { type HttpAnswer, type HttpCall, httpExchange, postTokenForm } from './core/util/http.js';
/** What a token shaped like a JWT says of itself (unverified): its claims, and when it expires. */
export { jwtClaims, jwtExpiry } from './core/util/jwt.js';
/** Clients and credentials kept between exchanges, one per key, bounded. */
export { ReusePool } from './core/util/reuse-pool.js';
/** A short, printable excerpt of text from elsewhere (an endpoint's error body) for an error message. */
export { foreignExcerpt } from './core/util/redact.js';
/** A place a named secret's value comes from (the configuration's `secrets`): a secret manager or a command. */
export type { SecretSource, SecretSourceContext } from './core/secrets/managed-secrets.js';
/** Why a file (a token file) may have been written by someone else, or undefined; a missing one only if none could create it. */
export { untrustedReason } from './core/util/file-trust.js';
/** A small token file read without trusting more than it must (trusted path, no blocking open, a regular file, bounded). */
export { readTokenFile } from './core/util/file-trust.js';
