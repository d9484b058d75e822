import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runHelper } from '../support/helper.js';
import { startKeyring } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';

/**
 * A developer's shell with XDG_DATA_HOME (and the other base directories) set: the suite's keyring and credrelay
 * keep every file in their own directory, never in the user's.
 */
const user = makeTempDir('user-dirs');
afterAll(() => user.remove());

it("a test keyring and what credrelay stores in it stay out of the user's XDG_DATA_HOME", async () => {
  const userData = join(user.path, 'data');
  process.env.XDG_DATA_HOME = userData;
  process.env.XDG_CONFIG_HOME = join(user.path, 'config');
  const session = await startKeyring();
  try {
    const stored = JSON.stringify({ ServerURL: 'isolated.example', Username: 'u', Secret: 'isolation-canary' });
    expect((await runHelper('store', stored, session.env)).code).toBe(0);
    expect(JSON.parse((await runHelper('get', 'isolated.example', session.env)).stdout).Secret).toBe(
      'isolation-canary',
    );
    expect(existsSync(join(session.env.XDG_DATA_HOME!, 'keyrings'))).toBe(true);
  } finally {
    await session.stop();
    delete process.env.XDG_DATA_HOME;
    delete process.env.XDG_CONFIG_HOME;
  }
  expect(existsSync(userData) ? readdirSync(userData) : []).toEqual([]);
  expect(existsSync(join(user.path, 'config')) ? readdirSync(join(user.path, 'config')) : []).toEqual([]);
});
