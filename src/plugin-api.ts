/**
 * What a provider plugin may import from credrelay (`import { CredrelayError } from 'credrelay/provider'`): the
 * provider types and the error type whose message reaches the user. See docs/plugins.md.
 */
export { CredrelayError, type ErrorCode } from './core/errors.js';
export type { Credential, OptionSpec, Provider, ProviderContext, StorageProvider, StoredEntry } from './core/provider.js';
export type { RegistryIdentity } from './core/registry/identity.js';
export type { RegistryPattern } from './core/registry/registry-pattern.js';
