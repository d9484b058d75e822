import { CredrelayError, isCredrelayError } from '../errors.js';
import type { SecretStore } from '../store/secret-store.js';
import { isIgnoredVariable } from '../paths.js';
import type { ManagedSecrets, SecretReader } from './managed-secrets.js';
import { assertSecretName } from './secret-name.js';

/** The keychain service of credrelay's named secrets, apart from registry credentials. */
const SECRETS_SERVICE = 'credrelay-secrets';

/** Named secrets (`credrelay secrets set NAME`), kept in the OS keychain or the encrypted file store only. */
interface NamedSecrets {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  /** Whether there was something to remove. */
  unset(name: string): Promise<boolean>;
  /** Names only, sorted. */
  names(): Promise<string[]>;
}

export function createNamedSecrets(store: SecretStore): NamedSecrets {
  return {
    get: async (name) => (await store.getPassword(SECRETS_SERVICE, assertSecretName(name))) ?? undefined,
    set: (name, value) => store.setPassword(SECRETS_SERVICE, assertSecretName(name), value),
    unset: (name) => store.deletePassword(SECRETS_SERVICE, assertSecretName(name)),
    names: async () => (await store.findCredentials(SECRETS_SERVICE)).map((item) => item.account).sort(),
  };
}

/**
 * Resolves a secret reference at request time: from its source when the configuration's `secrets` binds it;
 * otherwise credrelay's secrets in the OS keychain first, then the environment
 * (the caller's: each environment has its own daemon). A keychain that cannot be read does not hide a secret that
 * the environment has, which is how CI jobs without a keychain work; a secret set nowhere is an error that names it.
 */
export function createSecretResolver(
  vault: NamedSecrets,
  env: NodeJS.ProcessEnv = process.env,
  managed?: ManagedSecrets,
) {
  return async (name: string, pod?: SecretReader): Promise<string> => {
    // A secret the configuration binds to a source (a secret manager, a command) comes from there only: the
    // source is said once, and neither a stored nor an inherited value of the same name can stand in for it.
    const bound = managed?.resolve(name, pod);
    if (bound !== undefined) return bound;
    let keychainProblem: CredrelayError | undefined;
    try {
      const value = await vault.get(name);
      if (value !== undefined) return value;
    } catch (error) {
      if (!isCredrelayError(error)) throw error;
      keychainProblem = error;
    }
    if (isIgnoredVariable(name)) {
      // The daemon does not serve by these (they change for every step or program): one must not answer for another.
      throw new CredrelayError(
        'SECRET_INVALID',
        `secret ${name} cannot come from the environment: ${name} changes from step to step or program to program and credrelay ignores it; put the value in another variable, or run \`credrelay secrets set ${name}\``,
      );
    }
    const fromEnvironment = env[name];
    if (fromEnvironment !== undefined && fromEnvironment !== '') return fromEnvironment;
    // Which program runs credrelay is not known here (docker, buildah, podman, skopeo, kubelet): the fix names none.
    const inEnvironment = `set ${name} in the environment of the program that asks for the credential`;
    if (keychainProblem !== undefined) {
      // What failed leads: the store could not be read, so the secret may well be there.
      throw new CredrelayError(
        keychainProblem.code,
        `secret ${name} could not be read: ${keychainProblem.message} (or ${inEnvironment})`,
      );
    }
    throw new CredrelayError(
      'SECRET_MISSING',
      `secret ${name} is not set: run \`credrelay secrets set ${name}\`, or ${inEnvironment}`,
    );
  };
}
