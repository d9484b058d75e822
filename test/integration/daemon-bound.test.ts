import { spawn } from 'node:child_process';
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DAEMONS } from '../../src/core/wire/daemon-room.js';
import { isAlive, isCredrelayDaemon } from '../../src/core/util/process.js';
import { writeCredrelayConfig } from '../support/config.js';
import { BIN_DIR, CLI, HELPER, run } from '../support/helper.js';
import { waitFor } from '../support/wait.js';

/**
 * The bound on one user's daemons, `credrelay lock` and `credrelay daemon stop --all` reach every daemon of the
 * user, whatever runtime directory it uses (`XDG_RUNTIME_DIR` differs between an ssh session, a desktop session and
 * a container; CREDRELAY_RUNTIME_DIR and XDG_CACHE_HOME move it too). Run as a user of its own (uid 64999, which no
 * other suite uses) with the default bound, so that the daemons of suites running beside this one neither count
 * nor are touched.
 */
const NOBODY_UID = 64999;
const NOBODY = ['--reuid=64999', '--regid=64999', '--clear-groups'];
// Directly in /tmp, not the test run's private TMPDIR: the other user must reach it.
const scratch = { path: mkdtempSync('/tmp/credrelay-bound-') };
const home = join(scratch.path, 'home');
const TOKEN = 'bound-registry-token';
const HOST = 'registry.bound.example';

/** Directories the other user owns, made as root. */
function ownedDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chownSync(path, NOBODY_UID, NOBODY_UID);
  return path;
}

beforeAll(() => {
  chownSync(scratch.path, NOBODY_UID, NOBODY_UID);
  ownedDir(home);
  const configHome = ownedDir(join(home, '.config'));
  const config = writeCredrelayConfig(configHome, {
    registries: { [HOST]: { provider: 'static', username: 'ci', password: '$REGISTRY_TOKEN' } },
    store: 'file',
  });
  chownSync(join(configHome, 'credrelay'), NOBODY_UID, NOBODY_UID);
  chownSync(config, NOBODY_UID, NOBODY_UID);
});
afterEach(async () => {
  await nobody(CLI, ['daemon', 'stop', '--all'], 'run-0');
});
afterAll(() => rmSync(scratch.path, { recursive: true, force: true }));

/** Runs a command as the other user in a runtime directory of its own (`XDG_RUNTIME_DIR`), with the default bound. */
function nobody(command: string, args: string[], runtime: string, extra: Record<string, string> = {}, input = '') {
  const env = {
    HOME: home,
    XDG_RUNTIME_DIR: ownedDir(join(home, runtime)),
    PATH: `${BIN_DIR}:${process.env.PATH}`,
    REGISTRY_TOKEN: TOKEN,
    CREDRELAY_NATIVE: '0',
    // oclif asks the password database for the shell when SHELL is unset, and this uid has no entry there.
    SHELL: '/bin/sh',
    ...extra,
  };
  return run(
    'setpriv',
    [...NOBODY, 'env', '-i', ...Object.entries(env).map(([name, value]) => `${name}=${value}`), command, ...args],
    { input },
  );
}

/** The other user's live credrelay daemons, as /proc shows them. */
function daemonsOfNobody(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return statSync(`/proc/${pid}`).uid === NOBODY_UID && isCredrelayDaemon(pid);
      } catch {
        return false;
      }
    });
}

describe('the bound holds across runtime directories', () => {
  it(`ten runtime directories run at most ${MAX_DAEMONS} daemons; the rest are answered in-process, alike`, async () => {
    const runtimes = Array.from({ length: 10 }, (_, index) => `run-${index}`);
    const answers = await Promise.all(runtimes.map((runtime) => nobody(HELPER, ['get'], runtime, {}, HOST)));
    for (const answer of answers) {
      expect(answer.code, answer.stderr).toBe(0);
      expect(JSON.parse(answer.stdout)).toEqual({ ServerURL: HOST, Username: 'ci', Secret: TOKEN });
    }
    expect(daemonsOfNobody().length).toBeGreaterThan(0);
    expect(daemonsOfNobody().length).toBeLessThanOrEqual(MAX_DAEMONS);
    // One after another, as a user's shells would: still the bound, and the ones past it say why.
    for (const runtime of runtimes) {
      const answer = await nobody(HELPER, ['get'], runtime, {}, HOST);
      expect(JSON.parse(answer.stdout).Secret).toBe(TOKEN);
    }
    expect(daemonsOfNobody()).toHaveLength(MAX_DAEMONS);
    const past = await nobody(HELPER, ['get'], 'run-9', { AWS_PROFILE: 'another' }, HOST);
    expect(past.stderr).toMatch(
      new RegExp(`^credrelay: ${MAX_DAEMONS} daemons already serve other environments of this user .*in-process`),
    );
  });

  it('a daemon unused for a minute, in another runtime directory, makes room for a new environment', async () => {
    for (let index = 0; index < MAX_DAEMONS; index += 1) await nobody(HELPER, ['get'], `run-${index}`, {}, HOST);
    const running = daemonsOfNobody();
    expect(running).toHaveLength(MAX_DAEMONS);
    // The least recently used: the first directory's daemon, marked unused for two minutes.
    const pidFile = readdirSync(join(home, 'run-0', 'credrelay')).find((name) => /^daemon-.*\.pid$/.test(name))!;
    const pidPath = join(home, 'run-0', 'credrelay', pidFile);
    const stopped = Number.parseInt(readFileSync(pidPath, 'utf8'), 10);
    const longAgo = new Date(Date.now() - 120_000);
    utimesSync(pidPath, longAgo, longAgo);
    const newcomer = await nobody(HELPER, ['get'], 'run-8', {}, HOST);
    expect(newcomer.stderr).toBe('');
    await waitFor('the least recently used daemon to stop', () => !isAlive(stopped));
    expect(daemonsOfNobody()).toHaveLength(MAX_DAEMONS);
  });
});

describe('daemon stop --all', () => {
  it('stops the daemons of every environment and every runtime directory of the user, and only theirs', async () => {
    // Three environments: two profiles in one runtime directory, one in another.
    for (const [runtime, profile] of [
      ['run-a', 'one'],
      ['run-a', 'two'],
      ['run-b', 'three'],
    ] as const) {
      await nobody(HELPER, ['list'], runtime, { AWS_PROFILE: profile });
    }
    const started = daemonsOfNobody();
    expect(started).toHaveLength(3);
    const stopped = await nobody(CLI, ['daemon', 'stop', '--all'], 'run-a');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/^stopped 3 daemons \(pid \d+, \d+, \d+\)\n$/);
    expect(started.filter(isAlive)).toEqual([]);
    expect((await nobody(CLI, ['daemon', 'stop', '--all'], 'run-a')).stdout).toBe('no daemon is running\n');
  });
});

describe('what is a credrelay daemon', () => {
  it("never signals another program of the user: another project's daemon/main.js, a pid reused", async () => {
    // Another project's daemon, of the same user, whose command line ends like credrelay's entry.
    const other = join(home, 'other-project');
    for (const dir of ['', 'daemon', 'dist', 'dist/src', 'dist/src/daemon']) ownedDir(join(other, dir));
    const script = 'setInterval(() => {}, 1000);';
    writeFileSync(join(other, 'daemon', 'main.js'), script);
    writeFileSync(join(other, 'dist', 'src', 'daemon', 'main.js'), script);
    const others = ['daemon/main.js', 'dist/src/daemon/main.js'].map((entry) =>
      spawn('setpriv', [...NOBODY, process.execPath, '--max-semi-space-size=2', join(other, entry)], {
        stdio: 'ignore',
      }),
    );
    try {
      await waitFor('the other programs to run', () =>
        others.every((child) => child.pid !== undefined && readlinkOrEmpty(`/proc/${child.pid}/exe`).includes('node')),
      );
      // A pid file of this user's runtime directory names one of them, as one whose daemon died and whose pid was
      // reused would: with the start time the daemon had, which is not this process's.
      const runtime = ownedDir(join(home, 'run-reused', 'credrelay'));
      writeFileSync(join(runtime, `daemon-${'0'.repeat(16)}.pid`), `${others[0]!.pid} 1\n`);
      chownSync(join(runtime, `daemon-${'0'.repeat(16)}.pid`), NOBODY_UID, NOBODY_UID);
      expect(daemonsOfNobody()).toEqual([]);
      const stopped = await nobody(CLI, ['daemon', 'stop', '--all'], 'run-reused');
      expect(stopped.stdout).toBe('no daemon is running\n');
      for (const child of others) expect(isAlive(child.pid!)).toBe(true);
    } finally {
      for (const child of others) child.kill('SIGKILL');
    }
  });
});

/** The target of a link, or '' when it cannot be read. */
function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

describe('lock reaches every daemon of the user', () => {
  it('a key unlocked from one runtime directory is forgotten when lock runs from another', async () => {
    const unlocked = await nobody(CLI, ['unlock', '--passphrase-stdin'], 'run-ssh', {}, 'bound-passphrase\n');
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(unlocked.stdout).toMatch(/the daemon holds its key/);
    const locked = await nobody(CLI, ['lock'], 'run-desktop');
    expect(locked.code, locked.stderr).toBe(0);
    expect(locked.stdout).toBe('locked: the daemon forgot the file store key\n');
    expect((await nobody(CLI, ['lock'], 'run-ssh')).stdout).toBe('nothing was unlocked\n');
  });
});
