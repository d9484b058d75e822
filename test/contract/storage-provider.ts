import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderContext, StorageProvider } from '../../src/core/provider.js';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { testContext } from '../../src/testing/provider-contract.js';

/** What a storage provider implementation hands the contract. */
export interface StorageProviderFixture {
  readonly provider: StorageProvider;
  teardown?(): Promise<void>;
}

const context: ProviderContext = testContext();
const registry = (serverURL: string) => parseRegistry(serverURL);
const store = (provider: StorageProvider, ServerURL: string, Username: string, Secret: string) =>
  provider.storage.store(registry(ServerURL), { serverURL: ServerURL, username: Username, secret: Secret }, context);

/**
 * The behaviour every provider that owns storage must have, whatever it stores in. Each implementation runs it
 * with its own fixture; each case uses its own registry names so cases can share one store.
 */
export function runStorageProviderContract(name: string, setup: () => Promise<StorageProviderFixture>): void {
  describe(`storage provider contract: ${name}`, () => {
    let fixture: StorageProviderFixture;
    beforeAll(async () => {
      fixture = await setup();
    });
    afterAll(async () => {
      await fixture.teardown?.();
    });

    it('returns undefined, not an error, for a registry it has nothing for', async () => {
      expect(await fixture.provider.get(registry('never-stored.example'), context)).toBeUndefined();
    });

    it('finds a stored credential under every spelling of the registry', async () => {
      await store(fixture.provider, '127.0.0.1:5101', 'alice', 'pw-5101');
      for (const spelling of [
        '127.0.0.1:5101',
        'https://127.0.0.1:5101',
        'http://127.0.0.1:5101/',
        'https://127.0.0.1:5101/v2/',
      ]) {
        expect(await fixture.provider.get(registry(spelling), context)).toEqual({
          username: 'alice',
          secret: 'pw-5101',
        });
      }
      expect(await fixture.provider.get(registry('127.0.0.1:5102'), context)).toBeUndefined();
    });

    it('treats every Docker Hub spelling as one registry', async () => {
      await store(fixture.provider, 'https://index.docker.io/v1/', 'hubuser', 'hub-pat');
      for (const spelling of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
        expect(await fixture.provider.get(registry(spelling), context)).toEqual({
          username: 'hubuser',
          secret: 'hub-pat',
        });
      }
      await fixture.provider.storage.erase(registry('docker.io'), context);
      expect(await fixture.provider.get(registry('https://index.docker.io/v1/'), context)).toBeUndefined();
    });

    it('keeps identity tokens, empty secrets and unusual characters exactly', async () => {
      const secret = 'tök€n "quoted" \\ <&> \u2028 end';
      await store(fixture.provider, 'tokens.example', '<token>', secret);
      expect(await fixture.provider.get(registry('tokens.example'), context)).toEqual({ username: '<token>', secret });
      await store(fixture.provider, 'empty-secret.example', 'bob', '');
      expect(await fixture.provider.get(registry('empty-secret.example'), context)).toEqual({
        username: 'bob',
        secret: '',
      });
    });

    it('overwrites on a second store, under whichever spelling came last', async () => {
      await store(fixture.provider, 'overwrite.example:5000', 'first', 'one');
      await store(fixture.provider, 'https://overwrite.example:5000', 'second', 'two');
      expect(await fixture.provider.get(registry('overwrite.example:5000'), context)).toEqual({
        username: 'second',
        secret: 'two',
      });
      const listed = (await fixture.provider.storage.list(context)).filter((entry) =>
        entry.serverURL.includes('overwrite.example'),
      );
      expect(listed).toEqual([{ serverURL: 'https://overwrite.example:5000', username: 'second' }]);
    });

    it('lists entries under the server string they were stored with, and never a secret', async () => {
      await store(fixture.provider, 'https://listed.example/v1/', 'carol', 'list-secret-canary');
      const entries = await fixture.provider.storage.list(context);
      expect(entries).toContainEqual({ serverURL: 'https://listed.example/v1/', username: 'carol' });
      expect(JSON.stringify(entries)).not.toContain('list-secret-canary');
    });

    it('erases under any spelling, and erasing what is not stored succeeds', async () => {
      await store(fixture.provider, 'erase.example:7000', 'dave', 'pw');
      await fixture.provider.storage.erase(registry('https://erase.example:7000/'), context);
      expect(await fixture.provider.get(registry('erase.example:7000'), context)).toBeUndefined();
      await expect(fixture.provider.storage.erase(registry('erase.example:7000'), context)).resolves.toBeUndefined();
    });
  });
}
