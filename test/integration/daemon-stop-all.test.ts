import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BIN_DIR, CLI, HELPER, run } from '../support/helper.js';
import { daemonPids } from '../support/daemon.js';
import { isAlive } from '../../src/core/util/process.js';

/**
 * `credrelay daemon stop --all`, what the uninstall steps run: every daemon of the user goes, whatever environment
 * or runtime directory it serves. Run as another user (uid 65534), so that the daemons of suites running beside this
 * one, which are root's, are not touched.
 */
// Directly in /tmp, not the test run's private TMPDIR: the other user must reach it.
const scratch = { path: mkdtempSync('/tmp/credrelay-stop-all-') };
afterAll(() => rmSync(scratch.path, { recursive: true, force: true }));
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

it('stops the daemons of every environment and every runtime directory of the user, and only theirs', async () => {
  const home = join(scratch.path, 'home');
  mkdirSync(join(home, 'run-a'), { recursive: true, mode: 0o700 });
  mkdirSync(join(home, 'run-b'), { mode: 0o700 });
  for (const dir of ['', 'run-a', 'run-b']) chownSync(join(home, dir), 65534, 65534);
  chownSync(scratch.path, 65534, 65534);
  const as = (runtime: string, extra: Record<string, string> = {}) => ({
    env: { HOME: home, XDG_RUNTIME_DIR: join(home, runtime), PATH: `${BIN_DIR}:${process.env.PATH}`, ...extra },
  });
  const nobody = (command: string, args: string[], options: { env: Record<string, string> }) =>
    run('setpriv', [
      ...NOBODY,
      'env',
      '-i',
      ...Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
      command,
      ...args,
    ]);
  // Three environments: two profiles in one runtime directory, one in another.
  for (const [runtime, profile] of [
    ['run-a', 'one'],
    ['run-a', 'two'],
    ['run-b', 'three'],
  ] as const) {
    await nobody(HELPER, ['list'], as(runtime, { AWS_PROFILE: profile }));
  }
  const started = [...daemonPids(join(home, 'run-a', 'credrelay')), ...daemonPids(join(home, 'run-b', 'credrelay'))];
  expect(started.filter(isAlive)).toHaveLength(3);
  const stopped = await nobody(CLI, ['daemon', 'stop', '--all'], as('run-a'));
  expect(stopped.code, stopped.stderr).toBe(0);
  expect(stopped.stdout).toMatch(/^stopped 3 daemons \(pid \d+, \d+, \d+\)\n$/);
  expect(started.filter(isAlive)).toEqual([]);
  expect((await nobody(CLI, ['daemon', 'stop', '--all'], as('run-a'))).stdout).toBe('no daemon is running\n');
});
