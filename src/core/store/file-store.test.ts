import { execFileSync } from 'node:child_process';
import { REGISTRY_SERVICE } from './secret-store.js';
import {
  chmodSync,
  lchownSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeychainProvider } from '../../../plugins/keychain/index.js';
import { runStorageProviderContract } from '../../../test/contract/storage-provider.js';
import { makeTempDir } from '../../../test/support/temp.js';
import { createFileStore, unlockFileStore } from './file-store.js';
import { createStoreKeySource, forgetUnlockedKeys, readKeyFile } from './store-key.js';

const PASSPHRASE = 'correct horse battery staple';
const CANARY = 'CANARY-secret-3f9a';

let dir: ReturnType<typeof makeTempDir>;
let keyFile: string;
let storePath: string;
beforeEach(() => {
  dir = makeTempDir('file-store');
  keyFile = join(dir.path, 'key');
  writeFileSync(keyFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  storePath = join(dir.path, 'data', 'credrelay', 'store.json');
});
afterEach(() => {
  forgetUnlockedKeys();
  dir.remove();
});

const withKeyFile = (path = keyFile) =>
  createFileStore({ path: storePath, keys: createStoreKeySource({ CREDRELAY_STORE_KEY_FILE: path }) });

runStorageProviderContract('keychain over the encrypted file store', async () => {
  const contractDir = makeTempDir('file-store-contract');
  const key = join(contractDir.path, 'key');
  writeFileSync(key, PASSPHRASE, { mode: 0o600 });
  const store = createFileStore({
    path: join(contractDir.path, 'store.json'),
    keys: createStoreKeySource({ CREDRELAY_STORE_KEY_FILE: key }),
  });
  return {
    provider: createKeychainProvider({ store, service: REGISTRY_SERVICE }),
    teardown: async () => contractDir.remove(),
  };
});

describe('the encrypted file store', () => {
  it('keeps, finds, lists and deletes items, in a private directory and file', async () => {
    const store = withKeyFile();
    expect(await store.getPassword('credrelay', 'registry.example')).toBeNull();
    await store.setPassword('credrelay', 'registry.example', CANARY);
    await store.setPassword('credrelay-secrets', 'TOKEN', 'other');
    expect(await store.getPassword('credrelay', 'registry.example')).toBe(CANARY);
    expect(await store.findCredentials('credrelay')).toEqual([{ account: 'registry.example', password: CANARY }]);
    expect(await store.deletePassword('credrelay', 'registry.example')).toBe(true);
    expect(await store.deletePassword('credrelay', 'registry.example')).toBe(false);
    expect(await store.getPassword('credrelay', 'registry.example')).toBeNull();
    expect(statSync(storePath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.path, 'data', 'credrelay')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir.path, 'data', 'credrelay'))).toEqual(['store.json']); // no lock or temporary left
  });

  it('shows nothing in the clear: no secret, registry, username or service name', async () => {
    const store = withKeyFile();
    await store.setPassword(
      'credrelay',
      'secret-registry.example',
      JSON.stringify({ username: 'alice-user', secret: CANARY }),
    );
    const text = readFileSync(storePath, 'utf8');
    for (const clear of [CANARY, 'alice-user', 'secret-registry', 'credrelay"', PASSPHRASE])
      expect(text).not.toContain(clear);
  });

  it('seals each write with a fresh nonce, and pads records so their size does not tell a secret length', async () => {
    const store = withKeyFile();
    await store.setPassword('credrelay', 'r', 'a');
    const first = Object.values(JSON.parse(readFileSync(storePath, 'utf8')).records)[0] as string;
    await store.setPassword('credrelay', 'r', 'a');
    const second = Object.values(JSON.parse(readFileSync(storePath, 'utf8')).records)[0] as string;
    expect(second).not.toBe(first);
    await store.setPassword('credrelay', 'r', 'a'.repeat(20));
    const longer = Object.values(JSON.parse(readFileSync(storePath, 'utf8')).records)[0] as string;
    expect(longer.length).toBe(first.length);
  });

  it('binds each record to its identity: a record moved to another id does not open', async () => {
    const store = withKeyFile();
    await store.setPassword('credrelay', 'a.example', 'secret-a');
    await store.setPassword('credrelay', 'b.example', 'secret-b');
    const document = JSON.parse(readFileSync(storePath, 'utf8'));
    const [idA, idB] = Object.keys(document.records) as [string, string];
    [document.records[idA], document.records[idB]] = [document.records[idB], document.records[idA]];
    writeFileSync(storePath, JSON.stringify(document), { mode: 0o600 });
    await expect(store.getPassword('credrelay', 'a.example')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_FAILED', message: expect.stringMatching(/do not match their seal/) }),
    );
  });

  it('seals the record set: an old record spliced back, or one deleted, is tampering, not a value', async () => {
    const store = withKeyFile();
    await store.setPassword('credrelay', 'a.example', 'old-password');
    await store.setPassword('credrelay', 'b.example', 'secret-b');
    const before = JSON.parse(readFileSync(storePath, 'utf8'));
    await store.setPassword('credrelay', 'a.example', 'rotated-password');
    await store.deletePassword('credrelay', 'b.example');
    const after = JSON.parse(readFileSync(storePath, 'utf8'));
    const tampered = /was changed by something other than credrelay \(its records do not match their seal/;
    // Without the passphrase: the rotated password's record replaced by the old one.
    const [idA] = Object.keys(after.records) as [string];
    writeFileSync(storePath, JSON.stringify({ ...after, records: { [idA]: before.records[idA] } }), { mode: 0o600 });
    await expect(store.getPassword('credrelay', 'a.example')).rejects.toThrowError(tampered);
    // The logged-out one resurrected.
    writeFileSync(storePath, JSON.stringify({ ...after, records: { ...after.records, ...before.records } }), {
      mode: 0o600,
    });
    await expect(store.findCredentials('credrelay')).rejects.toThrowError(tampered);
    // A record deleted: not "not found".
    writeFileSync(storePath, JSON.stringify({ ...after, records: {} }), { mode: 0o600 });
    await expect(store.getPassword('credrelay', 'a.example')).rejects.toThrowError(tampered);
    // The whole older file put back, after this process read the newer one.
    writeFileSync(storePath, JSON.stringify(after), { mode: 0o600 });
    expect(await store.getPassword('credrelay', 'a.example')).toBe('rotated-password');
    writeFileSync(storePath, JSON.stringify(before), { mode: 0o600 });
    await expect(store.getPassword('credrelay', 'a.example')).rejects.toThrowError(
      /was replaced by an older copy of itself/,
    );
    // A set without its seal (as a development build wrote it).
    const { seal: _seal, ...unsealed } = after;
    writeFileSync(storePath, JSON.stringify(unsealed), { mode: 0o600 });
    await expect(store.getPassword('credrelay', 'a.example')).rejects.toThrowError(/its record set has no seal/);
  });

  it('tells a wrong passphrase from a missing item', async () => {
    await withKeyFile().setPassword('credrelay', 'r', CANARY);
    writeFileSync(keyFile, 'not the passphrase', { mode: 0o600 });
    const wrong = withKeyFile();
    await expect(wrong.getPassword('credrelay', 'r')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_WRONG_KEY', message: expect.stringMatching(/passphrase does not open/) }),
    );
    await expect(wrong.getPassword('credrelay', 'missing')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_WRONG_KEY' }),
    );
  });

  it('without a key, says it is locked and how to unlock it; an empty store is simply empty', async () => {
    const locked = createFileStore({ path: storePath, keys: createStoreKeySource({}) });
    expect(await locked.getPassword('credrelay', 'r')).toBeNull(); // nothing was ever stored
    await expect(locked.setPassword('credrelay', 'r', 's')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_LOCKED', message: expect.stringMatching(/run `credrelay unlock`/) }),
    );
    await withKeyFile().setPassword('credrelay', 'r', CANARY);
    await expect(locked.getPassword('credrelay', 'r')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_LOCKED' }),
    );
    expect((await locked.describe!()).usable).toBe(false);
  });

  it('refuses a store file that others can read', async () => {
    await withKeyFile().setPassword('credrelay', 'r', CANARY);
    chmodSync(storePath, 0o644);
    await expect(withKeyFile().getPassword('credrelay', 'r')).rejects.toThrowError(/readable by you alone.*chmod 600/);
  });

  it('loses nothing when many writers write at once', async () => {
    const writers = Array.from({ length: 4 }, () => withKeyFile());
    await Promise.all(
      Array.from({ length: 24 }, (_, index) => writers[index % 4]!.setPassword('credrelay', `r${index}`, `s${index}`)),
    );
    const found = await withKeyFile().findCredentials('credrelay');
    expect(found.map((item) => item.account).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `r${i}`).sort());
  });
});

describe('unlocking', () => {
  it('creates the store with the first passphrase, then opens it only with the same one', async () => {
    expect(await unlockFileStore(storePath, PASSPHRASE)).toBe('created');
    const unlocked = createFileStore({ path: storePath, keys: createStoreKeySource({}) });
    await unlocked.setPassword('credrelay', 'r', CANARY);
    expect(forgetUnlockedKeys()).toBe(true);
    await expect(unlocked.getPassword('credrelay', 'r')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_LOCKED' }),
    );
    await expect(unlockFileStore(storePath, 'wrong')).rejects.toThrowError(
      expect.objectContaining({ code: 'STORE_WRONG_KEY' }),
    );
    expect(await unlockFileStore(storePath, PASSPHRASE)).toBe('unlocked');
    expect(await unlocked.getPassword('credrelay', 'r')).toBe(CANARY);
  });
});

describe('key files', () => {
  it('reads the passphrase without its trailing newline', () => {
    expect(readKeyFile(keyFile)).toBe(PASSPHRASE);
  });
  it.each([
    ['readable by others', () => chmodSync(keyFile, 0o644), /can be read or written by others \(mode 644\).*chmod 600/],
    ['readable by the group', () => chmodSync(keyFile, 0o640), /mode 640/],
    ['empty', () => writeFileSync(keyFile, '\n'), /is empty/],
    ['missing', () => rmSync(keyFile), /cannot be read \(ENOENT\)/],
  ])('refuses a key file that is %s', (_name, spoil, message) => {
    spoil();
    expect(() => readKeyFile(keyFile)).toThrowError(message);
  });
  it('refuses a FIFO at once instead of waiting for a writer', () => {
    const fifo = join(dirname(keyFile), 'fifo-key');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(() => readKeyFile(fifo)).toThrowError(/is not a regular file/);
  });
  it('refuses a relative key file path', () => {
    expect(() => readKeyFile('key')).toThrowError(/not an absolute path/);
  });
  it('refuses a key file in a directory others can write, where it could be swapped for a link', () => {
    const open = join(dirname(keyFile), 'open-dir');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const swapped = join(open, 'key');
    // What another user leaves there: a link to a file of the victim's whose content it knows.
    const known = join(dirname(keyFile), 'known-content');
    writeFileSync(known, 'known words\n', { mode: 0o600 });
    symlinkSync(known, swapped);
    expect(() => readKeyFile(swapped)).toThrowError(/is not safe: .*open-dir can be written by others \(mode 0777\)/);
  });
  it.runIf(process.getuid?.() === 0)('refuses a link another user planted in a sticky directory', () => {
    const sticky = join(dirname(keyFile), 'sticky-dir');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const planted = join(sticky, 'key');
    symlinkSync(keyFile, planted);
    lchownSync(planted, 65534, 65534);
    expect(() => readKeyFile(planted)).toThrowError(/is a link made by uid 65534/);
  });
  it("follows a link of the user's own, as a mounted Kubernetes secret is", () => {
    const linked = join(dirname(keyFile), 'linked-key');
    symlinkSync(keyFile, linked);
    expect(readKeyFile(linked)).toBe(PASSPHRASE);
  });
});
