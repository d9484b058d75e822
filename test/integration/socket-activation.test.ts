import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../src/core/paths.js';
import {
  CLI,
  REPO_ROOT,
  VERSION,
  daemonPidFor,
  daemonSocketFor,
  helperEnvironment,
  run,
  runHelper,
} from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { waitFor } from '../support/wait.js';

/**
 * systemd socket activation, with systemd's own systemd-socket-activate: the socket listens before any daemon runs,
 * so the first `get` connects at once and the service manager starts the daemon, which takes the socket it was
 * handed (LISTEN_FDS) instead of a client spawning one. A socket at another path than this environment's is refused:
 * that daemon would serve callers whose environment is not its own.
 */
let session: Keyring;
let activator: ChildProcess | undefined;

beforeAll(async () => {
  session = await startKeyring();
  const stored = JSON.stringify({ ServerURL: 'activated.example', Username: 'sa', Secret: 'socket-activated-secret' });
  expect((await runHelper('store', stored, { ...session.env, CREDRELAY_NO_DAEMON: '1' })).code).toBe(0);
});
afterEach(() => {
  activator?.kill('SIGTERM');
  activator = undefined;
});
afterAll(async () => {
  await stopCredrelayDaemon(session.runtimeDir); // this suite's only: `stop --all` would end other suites' too
  await session.stop();
});

/** systemd-socket-activate listening on `socketPath`, passing `daemonEnv` (every variable named) to the daemon. */
async function activate(socketPath: string, daemonEnv: Record<string, string | undefined>): Promise<ChildProcess> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  const names = Object.keys(daemonEnv).filter((name) => daemonEnv[name] !== undefined);
  const child = spawn(
    'sh',
    [
      '-c',
      'exec "$@"',
      'sh',
      'systemd-socket-activate',
      '-l',
      socketPath,
      ...names.flatMap((name) => ['-E', name]),
      process.execPath,
      join(REPO_ROOT, 'dist', 'src', 'daemon', 'main.js'),
    ],
    { env: daemonEnv as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let said = '';
  child.stderr!.on('data', (chunk: Buffer) => (said += chunk));
  await waitFor('systemd-socket-activate to listen', () => said.includes('Listening on'));
  return child;
}

describe('a daemon started by socket activation', () => {
  it('answers the first get through the handed-over socket, with no daemon spawned by the client', async () => {
    const env = helperEnvironment(session.env);
    const socketPath = daemonSocketFor(session.env);
    activator = await activate(socketPath, env);
    expect(daemonPidFor(session.env)).toBeUndefined(); // nothing runs yet: only the socket listens

    const got = await runHelper('get', 'activated.example', session.env);
    expect(got.stderr).toBe(''); // through the daemon, no in-process notice
    expect(JSON.parse(got.stdout)).toMatchObject({ Secret: 'socket-activated-secret' });
    // systemd-socket-activate execs the daemon in its own process (the shell execs it too): the activator's pid.
    await waitFor('the daemon to write its pid file', () => daemonPidFor(session.env) !== undefined);
    expect(daemonPidFor(session.env)).toBe(activator.pid);
    expect(statSync(socketPath).mode & 0o022).toBe(0); // as systemd-socket-activate made it: nobody else may connect

    // Stopped, it leaves the socket to its owner; a later client finds nothing listening and starts one as usual.
    const exited = new Promise((resolve) => activator!.once('exit', resolve));
    expect((await run(CLI, ['daemon', 'stop'], { env: session.env })).code).toBe(0);
    await exited;
    expect(existsSync(socketPath)).toBe(true);
    const again = await runHelper('get', 'activated.example', session.env);
    expect(JSON.parse(again.stdout)).toMatchObject({ Secret: 'socket-activated-secret' });
    expect(daemonPidFor(session.env)).not.toBe(activator.pid);
    await run(CLI, ['daemon', 'stop'], { env: session.env });
  });

  it("refuses a socket that is not this environment's, and says which path it wants", async () => {
    const env = helperEnvironment(session.env);
    const socketPath = daemonSocketFor(session.env);
    // The unit's environment lacks nothing but has one variable more than the callers': another daemon's socket.
    activator = await activate(socketPath, { ...env, AWS_PROFILE: 'unit-only' });
    const exited = new Promise<number | null>((resolve) => activator!.once('exit', resolve));
    const got = await runHelper('get', 'activated.example', session.env);
    expect(JSON.parse(got.stdout)).toMatchObject({ Secret: 'socket-activated-secret' }); // answered in-process
    expect(got.stderr).toMatch(/^credrelay: .*serving this request in-process/);
    expect(await exited).toBe(1);
    const log = readFileSync(resolvePaths({ ...env, AWS_PROFILE: 'unit-only' }).logPath, 'utf8');
    expect(log).toContain(
      `refusing to start: the service manager handed over the socket ${socketPath}, but the daemon for this environment listens on ${daemonSocketFor({ ...session.env, AWS_PROFILE: 'unit-only' })}`,
    );
  });

  it('refuses a socket others could connect to: a connection another user queued first gets no answer', async () => {
    // A unit without SocketMode=0600 / DirectoryMode=0700: a 0777 socket in a 0755 directory outside /run/user.
    const runtimeDir = mkdtempSync('/tmp/credrelay-activation-');
    chmodSync(runtimeDir, 0o755);
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: runtimeDir };
    const socketPath = daemonSocketFor(env);
    try {
      activator = await activate(socketPath, helperEnvironment(env));
      chmodSync(socketPath, 0o777); // SocketMode=0666 or 0777, as a unit that omits it gets
      const exited = new Promise<number | null>((resolve) => activator!.once('exit', resolve));
      // Another user's request, queued before any daemon runs (it is what starts one).
      const request = JSON.stringify({
        v: VERSION,
        op: 'protocol',
        action: 'get',
        input: Buffer.from('activated.example').toString('base64'),
      });
      const theirs = await run('setpriv', [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        `const s = require('node:net').createConnection(${JSON.stringify(socketPath)}); let got = ''; s.on('data', (d) => (got += d)); s.on('error', () => {}); s.on('close', () => process.stdout.write(got)); s.write(${JSON.stringify(`${request}\n`)});`,
      ]);
      expect(theirs.stdout).not.toContain('socket-activated-secret');
      expect(theirs.stdout).toBe('');
      expect(await exited).toBe(1);
      const log = readFileSync(resolvePaths(helperEnvironment(env)).logPath, 'utf8');
      expect(log).toContain(
        `refusing to start: the service manager's socket ${socketPath} is writable, so connectable, by others (mode 0777)`,
      );
    } finally {
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});
