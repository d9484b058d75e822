import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createFileStore } from '../../src/core/store/file-store.js';
import { createStoreKeySource } from '../../src/core/store/store-key.js';
import { REPO_ROOT } from '../support/helper.js';
import { makeTempDir } from '../support/temp.js';

/**
 * The file store's write lock under a stale lock and truly simultaneous writers: eight processes started together,
 * each released at the same instant (a shared start time), each writing its own record. None may be lost.
 */
const scratch = makeTempDir('store-lock');
afterAll(() => scratch.remove());
const WRITERS = 8;
const ROUNDS = 10;

/** One writer: waits for the start time, then stores one record through the built file store. */
const WRITER = `
import { createFileStore } from ${JSON.stringify(join(REPO_ROOT, 'dist/src/core/store/file-store.js'))};
import { createStoreKeySource } from ${JSON.stringify(join(REPO_ROOT, 'dist/src/core/store/store-key.js'))};
const [path, account, startAt] = process.argv.slice(1);
const store = createFileStore({ path, keys: createStoreKeySource(process.env), lockTimeoutMs: 20000 });
while (Date.now() < Number(startAt)) {}
await store.setPassword('credrelay', account, 'secret-' + account);
`;

it(`${WRITERS} writers at once over a stale lock lose nothing, in each of ${ROUNDS} rounds`, async () => {
  const keyFile = join(scratch.path, 'key');
  writeFileSync(keyFile, 'lock test passphrase\n', { mode: 0o600 });
  const env = { ...process.env, CREDRELAY_STORE_KEY_FILE: keyFile };
  // A pid that is surely dead: a process that has exited.
  const deadPid = spawnSync('true').pid!;
  for (let round = 0; round < ROUNDS; round += 1) {
    const dir = join(scratch.path, `round-${round}`);
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'store.json');
    const store = createFileStore({ path, keys: createStoreKeySource(env) });
    await store.setPassword('credrelay', 'seed', 'seed'); // the store exists, as a writer found it
    writeFileSync(`${path}.lock`, `${deadPid} left-by-a-dead-writer`, { mode: 0o600 });
    const startAt = Date.now() + 1500; // after every writer has loaded
    const writers = Array.from(
      { length: WRITERS },
      (_, index) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(
            process.execPath,
            ['--input-type=module', '-e', WRITER, path, `writer-${index}`, String(startAt)],
            { env, stdio: ['ignore', 'ignore', 'inherit'] },
          );
          child.on('exit', resolve);
        }),
    );
    expect(await Promise.all(writers)).toEqual(Array.from({ length: WRITERS }, () => 0));
    const accounts = (await store.findCredentials('credrelay')).map((entry) => entry.account).sort();
    expect(accounts, `round ${round}`).toEqual(
      ['seed', ...Array.from({ length: WRITERS }, (_, index) => `writer-${index}`)].sort(),
    );
  }
}, 120_000);
