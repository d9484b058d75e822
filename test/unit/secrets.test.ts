import { REGISTRY_SERVICE } from '../../src/core/store/secret-store.js';
import { describe, expect, it } from 'vitest';
import { createKeychainProvider } from '../../plugins/keychain/index.js';
import { builtinProviders, configuredSecrets } from '../../src/compose.js';
import { parseConfig } from '../../src/core/config.js';
import { CredrelayError } from '../../src/core/errors.js';
import { loadProviderSet } from '../../src/routing/provider-set.js';
import { assertSecretName, referencedSecret } from '../../src/core/secrets/secret-name.js';
import { createSecretResolver, createNamedSecrets } from '../../src/core/secrets/named-secrets.js';
import { memorySecretStore } from '../support/memory-secret-store.js';

describe('secret names and references', () => {
  it.each(['DOCKERHUB_TOKEN', '_x', 'a1'])('%s is a name', (name) => expect(assertSecretName(name)).toBe(name));
  it.each(['1A', 'A-B', 'A B', '', '$A', 'A=B', 'ä'])('%j is not', (name) =>
    expect(() => assertSecretName(name)).toThrowError(/is not a secret name/),
  );
  it('recognises whole-value references only', () => {
    expect(referencedSecret('$DOCKERHUB_TOKEN')).toBe('DOCKERHUB_TOKEN');
    expect(referencedSecret('literal')).toBeUndefined();
    expect(referencedSecret('pre$FIX')).toBeUndefined();
    expect(referencedSecret('$1X')).toBeUndefined();
  });
});

describe('secret vault and resolver', () => {
  it('keeps values under their own keychain service, apart from registry credentials', async () => {
    const store = memorySecretStore();
    const vault = createNamedSecrets(store);
    await vault.set('B_TOKEN', 'b');
    await vault.set('A_TOKEN', 'a');
    expect(await vault.names()).toEqual(['A_TOKEN', 'B_TOKEN']);
    expect([...store.items.keys()]).toContain(JSON.stringify(['credrelay-secrets', 'A_TOKEN']));
    expect(await vault.unset('A_TOKEN')).toBe(true);
    expect(await vault.unset('A_TOKEN')).toBe(false);
    expect(await vault.get('A_TOKEN')).toBeUndefined();
  });

  it('resolves from the keychain first, then the environment', async () => {
    const vault = createNamedSecrets(memorySecretStore());
    await vault.set('BOTH', 'from-keychain');
    const resolve = createSecretResolver(vault, { BOTH: 'from-env', ONLY_ENV: 'env-value' });
    expect(await resolve('BOTH')).toBe('from-keychain');
    expect(await resolve('ONLY_ENV')).toBe('env-value');
    await expect(resolve('NOWHERE')).rejects.toThrowError(
      /^secret NOWHERE is not set: run `credrelay secrets set NOWHERE`, or set NOWHERE in the environment of the program that asks for the credential$/,
    );
  });

  it('still finds a secret in the environment when the keychain cannot be read, and says why when it cannot', async () => {
    const broken = createNamedSecrets({
      ...memorySecretStore(),
      getPassword: async () => {
        throw new CredrelayError('KEYCHAIN_LOCKED', 'the OS keychain is locked');
      },
    });
    const resolve = createSecretResolver(broken, { CI_TOKEN: 'ci' });
    expect(await resolve('CI_TOKEN')).toBe('ci');
    await expect(resolve('OTHER')).rejects.toThrowError(
      /^secret OTHER could not be read: the OS keychain is locked \(or set OTHER in the environment of the program that asks for the credential\)$/,
    );
  });
});

describe('registries entries with username and password', () => {
  const load = (registries: unknown) =>
    loadProviderSet(
      parseConfig({ registries }, '/c.json'),
      createKeychainProvider({ store: memorySecretStore(), service: REGISTRY_SERVICE }),
      builtinProviders(),
    );

  it('need no provider name: they are the static provider', async () => {
    const set = await load({ 'https://index.docker.io/v1/': { username: 'myuser', password: '$DOCKERHUB_TOKEN' } });
    expect(set.routes).toEqual([
      expect.objectContaining({
        provider: 'static',
        written: 'https://index.docker.io/v1/',
        options: { username: 'myuser', password: '$DOCKERHUB_TOKEN' },
      }),
    ]);
  });
  it('refuse a password written in the file, and say where it belongs', async () => {
    await expect(load({ 'r.example': { username: 'u', password: 'hunter2' } })).rejects.toThrowError(
      /registries "r\.example": option "password" must be a secret reference such as "\$DOCKERHUB_TOKEN" \(store the value with `credrelay secrets set DOCKERHUB_TOKEN`/,
    );
  });
  it('need both fields', async () => {
    await expect(load({ 'r.example': { username: 'u' } })).rejects.toThrowError(
      /provider "static" needs option "password"/,
    );
  });
});

describe('secrets bound to sources, read as whom', () => {
  const bind = (binding: Record<string, unknown>) => () =>
    configuredSecrets(parseConfig({ secrets: { HUB: binding } }, 'config.json'));
  const vault = { from: 'vault', address: 'https://vault.example', path: 'ci/hub', role: 'pods' };

  it('podIdentity is true or false, and never beside jobIdentity', () => {
    expect(bind({ ...vault, podIdentity: 'yes' })).toThrowError(/secrets "HUB" "podIdentity" must be true/);
    expect(bind({ ...vault, podIdentity: true, jobIdentity: { source: 'file', path: '/run/token' } })).toThrowError(
      /has both "jobIdentity" and "podIdentity"/,
    );
    expect(bind({ ...vault, podIdentity: true })).not.toThrow();
  });

  it('a source that reads with its own credentials takes neither', () => {
    expect(bind({ from: 'command', command: ['/bin/true'], podIdentity: true })).toThrowError(
      /has "podIdentity", but command reads with its own credentials; the sources that read as the caller are aws-secretsmanager, gcp-secretmanager, azure-keyvault, vault/,
    );
  });

  it('a podIdentity secret outside kubelet mode is an error that says so, never another identity', async () => {
    const managed = configuredSecrets(parseConfig({ secrets: { HUB: { ...vault, podIdentity: true } } }));
    await expect(managed.resolve('HUB')).rejects.toThrowError(/is read as the pod the kubelet pulls for/);
  });
});
