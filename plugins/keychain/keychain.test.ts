import { REGISTRY_SERVICE } from '../../src/core/store/secret-store.js';
import { describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { runStorageProviderContract } from '../../test/contract/storage-provider.js';
import { memorySecretStore } from '../../test/support/memory-secret-store.js';
import { createKeychainProvider } from './index.js';

runStorageProviderContract('keychain over an in-memory secret store', async () => ({
  provider: createKeychainProvider({ store: memorySecretStore(), service: REGISTRY_SERVICE }),
}));

runProviderContract('keychain', {
  async create() {
    const store = memorySecretStore();
    const item = { serverURL: 'registry.example', username: 'alice', secret: 'stored-secret' };
    await store.setPassword(REGISTRY_SERVICE, 'registry.example', JSON.stringify(item));
    return createKeychainProvider({ store, service: REGISTRY_SERVICE });
  },
  ownHosts: ['registry.example', 'docker.io'],
  spoofedHosts: [],
  matchesEverything: true,
  answers: { host: 'https://registry.example/v2/' },
  // Nothing stored for it: nothing to answer, and Docker carries on anonymously.
  fails: { host: 'other.example', outcome: 'nothing' },
});

describe('keychain provider', () => {
  it('keeps its entries under its own service, so list shows only them', async () => {
    const store = memorySecretStore();
    await store.setPassword('someone-else', 'registry.example', 'not ours');
    const provider = createKeychainProvider({ store, service: REGISTRY_SERVICE });
    await provider.storage.store(
      parseRegistry('mine.example'),
      { serverURL: 'mine.example', username: 'u', secret: 's' },
      testContext(),
    );
    expect(await provider.storage.list(testContext())).toEqual([{ serverURL: 'mine.example', username: 'u' }]);
    expect([...store.items.keys()]).toContain(JSON.stringify(['credrelay', 'mine.example']));
  });

  it('reports a damaged entry as an error with the fix, not as not-found', async () => {
    const store = memorySecretStore();
    await store.setPassword('credrelay', 'broken.example', 'not json');
    const provider = createKeychainProvider({ store, service: REGISTRY_SERVICE });
    await expect(provider.get(parseRegistry('broken.example'), testContext())).rejects.toThrowError(
      /damaged: remove it with `credrelay logout broken.example` and log in again/,
    );
  });
});
