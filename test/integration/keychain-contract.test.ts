import { REGISTRY_SERVICE } from '../../src/core/store/secret-store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeychainProvider } from '../../plugins/keychain/index.js';
import { createOsKeychain } from '../../src/core/store/os-keychain.js';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { testContext } from '../../src/testing/provider-contract.js';
import { runStorageProviderContract } from '../contract/storage-provider.js';
import { type Keyring, startKeyring } from '../support/keyring.js';

let keyring: Keyring;
beforeAll(async () => {
  keyring = await startKeyring();
  // The keychain thread reads the bus address when it connects, from this test process's environment.
  Object.assign(process.env, keyring.env);
});
afterAll(async () => {
  await keyring.stop();
});

runStorageProviderContract(
  'keychain over gnome-keyring (real @napi-rs/keyring on its thread, real D-Bus)',
  async () => ({
    provider: createKeychainProvider({ store: createOsKeychain(), service: REGISTRY_SERVICE }),
  }),
);

describe('keychain entries in the real keyring', () => {
  it('are kept under the credrelay service, keyed by registry identity', async () => {
    await createKeychainProvider({ store: createOsKeychain(), service: REGISTRY_SERVICE }).storage.store(
      parseRegistry('https://Seen.Example:5000/v2/'),
      { serverURL: 'https://Seen.Example:5000/v2/', username: 'erin', secret: 'seen-secret' },
      testContext(),
    );
    const listing = keyring.search('credrelay');
    expect(listing).toMatch(/attribute\.username = seen\.example:5000/);
    expect(listing).toMatch(/attribute\.service = credrelay/);
  });
});
