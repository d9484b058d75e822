import { describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/identity.js';
import { testContext } from '../../src/testing/provider-contract.js';
import { runStorageProviderContract } from '../../test/contract/storage-provider.js';
import { memorySecretStore } from '../../test/support/memory-secret-store.js';
import { createKeychainProvider } from './index.js';
import { createKeytarStore, explainKeychainError, onKeychainLost } from './secret-store.js';

runStorageProviderContract('keychain over an in-memory keytar', async () => ({
  provider: createKeychainProvider({ store: memorySecretStore() }),
}));

describe('keychain provider', () => {
  it('keeps its entries under its own service, so list shows only them', async () => {
    const store = memorySecretStore();
    await store.setPassword('someone-else', 'registry.example', 'not ours');
    const provider = createKeychainProvider({ store });
    await provider.store(
      parseRegistry('mine.example'),
      { ServerURL: 'mine.example', Username: 'u', Secret: 's' },
      testContext(),
    );
    expect(await provider.list(testContext())).toEqual([{ serverURL: 'mine.example', username: 'u' }]);
    expect([...store.items.keys()]).toContain(JSON.stringify(['credrelay', 'mine.example']));
  });

  it('reports a damaged entry as an error with the fix, not as not-found', async () => {
    const store = memorySecretStore();
    await store.setPassword('credrelay', 'broken.example', 'not json');
    const provider = createKeychainProvider({ store });
    await expect(provider.get(parseRegistry('broken.example'), testContext())).rejects.toThrowError(
      /damaged: remove it with `credrelay logout broken.example` and log in again/,
    );
  });
});

describe('explainKeychainError', () => {
  it.each([
    ['Cannot autolaunch D-Bus without X11 $DISPLAY', 'KEYCHAIN_UNAVAILABLE', /no D-Bus session bus/],
    ['The given address is empty', 'KEYCHAIN_UNAVAILABLE', /no D-Bus session bus/],
    ['Could not connect: No such file or directory', 'KEYCHAIN_UNAVAILABLE', /no D-Bus session bus/],
    [
      'Object does not exist at path “/org/freedesktop/secrets/collection/login”',
      'KEYCHAIN_UNAVAILABLE',
      /no default \(login\) keyring/,
    ],
    [
      'GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files',
      'KEYCHAIN_UNAVAILABLE',
      /no Secret Service on D-Bus: start gnome-keyring/,
    ],
    [
      'The name org.freedesktop.secrets was not provided by any .service files',
      'KEYCHAIN_UNAVAILABLE',
      /no Secret Service/,
    ],
    ['Cannot create an item in a locked collection', 'KEYCHAIN_LOCKED', /locked: unlock it/],
    ['The connection is closed', 'KEYCHAIN_UNAVAILABLE', /the connection to the D-Bus session bus was lost/],
    ['Something new', 'KEYCHAIN_FAILED', /the OS keychain failed.*Something new/],
  ])('%s', (native, code, message) => {
    const error = explainKeychainError(new Error(native));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/credrelay doctor/);
  });
});

describe('keytar store', () => {
  const never = () => new Promise<never>(() => undefined);

  it('gives up on a keychain that never answers, within its deadline, and says what to do', async () => {
    const store = createKeytarStore(50, async () => ({ ...memorySecretStore(), getPassword: never }));
    const started = Date.now();
    await expect(store.getPassword('credrelay', 'r')).rejects.toThrowError(
      expect.objectContaining({
        code: 'KEYCHAIN_TIMEOUT',
        message: expect.stringMatching(/did not answer within 0.05 s.*unlock/),
      }),
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('explains a native keychain failure', async () => {
    const store = createKeytarStore(1000, async () => ({
      ...memorySecretStore(),
      findCredentials: async () => {
        throw new Error('Cannot create an item in a locked collection');
      },
    }));
    await expect(store.findCredentials('credrelay')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_LOCKED' }),
    );
  });

  it('does not take "nothing found" from a locked keychain as an answer', async () => {
    const empty = memorySecretStore();
    const locked = createKeytarStore(
      1000,
      async () => empty,
      async () => true,
    );
    await expect(locked.getPassword('credrelay', 'r')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_LOCKED' }),
    );
    await expect(locked.findCredentials('credrelay')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_LOCKED' }),
    );
    await expect(locked.deletePassword('credrelay', 'r')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_LOCKED' }),
    );
    const unlocked = createKeytarStore(
      1000,
      async () => empty,
      async () => false,
    );
    await expect(unlocked.getPassword('credrelay', 'r')).resolves.toBeNull();
    const unknown = createKeytarStore(
      1000,
      async () => empty,
      async () => undefined,
    );
    await expect(unknown.findCredentials('credrelay')).resolves.toEqual([]);
  });

  it('says how to fix a keychain module that will not load, and tries again next time', async () => {
    let attempts = 0;
    const store = createKeytarStore(1000, async () => {
      attempts += 1;
      throw new Error('libsecret-1.so.0: cannot open shared object file');
    });
    await expect(store.getPassword('credrelay', 'r')).rejects.toThrowError(/install libsecret-1-0/);
    await expect(store.getPassword('credrelay', 'r')).rejects.toThrowError(/install libsecret-1-0/);
    expect(attempts).toBe(2);
  });
});

describe('onKeychainLost', () => {
  const failing = (message: string) => async () => {
    throw new Error(message);
  };
  it('fires once when a keychain that worked becomes unreachable, and never for one that never worked', async () => {
    let lost = 0;
    const stop = onKeychainLost(() => (lost += 1));
    try {
      const memory = memorySecretStore();
      let broken = false;
      const flaky = createKeytarStore(
        1000,
        async () => ({
          ...memory,
          getPassword: (service, account) =>
            broken ? failing('Could not connect: No such file or directory')() : memory.getPassword(service, account),
        }),
        async () => false,
      );
      await flaky.getPassword('credrelay', 'r');
      broken = true;
      await expect(flaky.getPassword('credrelay', 'r')).rejects.toThrowError(
        expect.objectContaining({ code: 'KEYCHAIN_UNAVAILABLE' }),
      );
      await expect(flaky.getPassword('credrelay', 'r')).rejects.toThrowError(
        expect.objectContaining({ code: 'KEYCHAIN_UNAVAILABLE' }),
      );
      expect(lost).toBe(1);

      const never = createKeytarStore(1000, async () => ({
        ...memorySecretStore(),
        getPassword: failing('The given address is empty'),
      }));
      await expect(never.getPassword('credrelay', 'r')).rejects.toThrowError(
        expect.objectContaining({ code: 'KEYCHAIN_UNAVAILABLE' }),
      );
      expect(lost).toBe(1);
    } finally {
      stop();
    }
  });
});
