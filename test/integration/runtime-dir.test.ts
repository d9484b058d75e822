import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, HELPER as HELPER_PATH, daemonSocketFor, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';

/**
 * The socket's directory, attacked as another local user would: a runtime directory so long that Node would cut
 * the socket path (and bind or reach another path), and a runtime directory that does not exist yet under a
 * directory others can write, where another user can plant a directory or a link first.
 */
let session: Keyring;
let scratch: ReturnType<typeof makeTempDir>;

beforeAll(async () => {
  session = await startKeyring();
  scratch = makeTempDir('runtime-dir');
});
afterAll(async () => {
  await session.stop();
  scratch.remove();
});

const STORED = JSON.stringify({ ServerURL: 'rt.example', Username: 'u', Secret: 'runtime-dir-canary' });

/** Every socket file under a directory. */
function socketsUnder(root: string): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return;
    if (stats.isSocket()) found.push(path);
    if (stats.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(root);
  return found;
}

async function listenCounting(path: string): Promise<{ server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, connections: () => connections };
}

describe('a runtime directory whose socket path would be cut', () => {
  it('is refused: the request is served in-process, no socket is made anywhere, and the daemon will not start', async () => {
    const parent = join(scratch.path, 'long');
    mkdirSync(parent, { mode: 0o700 });
    let dir = parent;
    while (Buffer.byteLength(dir) < 200) dir = join(dir, 'a'.repeat(Math.min(40, 200 - Buffer.byteLength(dir))));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: dir };
    const socketPath = daemonSocketFor(env);
    expect(Buffer.byteLength(socketPath)).toBeGreaterThan(200);
    // Where Node would have put it: the path cut to 107 bytes, in a parent directory.
    const truncated = await listenCounting(Buffer.from(socketPath).subarray(0, 107).toString());
    try {
      expect((await runHelper('store', STORED, env)).code).toBe(0);
      const got = await runHelper('get', 'rt.example', env);
      expect(JSON.parse(got.stdout)).toMatchObject({ Secret: 'runtime-dir-canary' });
      expect(got.stderr).toMatch(/longer than the 107 a Unix socket holds: set CREDRELAY_RUNTIME_DIR to a shorter/);
      expect(truncated.connections()).toBe(0);
      expect(
        socketsUnder(parent).filter((path) => !path.startsWith(Buffer.from(socketPath).subarray(0, 107).toString())),
      ).toEqual([]);
      const daemon = await run(CLI, ['daemon', 'run'], { env });
      expect(daemon.code).toBe(1);
      expect(daemon.stderr).toMatch(/could not start: refusing to start: the socket path .* is \d+ bytes/);
    } finally {
      truncated.server.close();
    }
  });
});

describe('a runtime directory that does not exist yet, under a directory others can write', () => {
  let shared: string;
  beforeAll(() => {
    // Directly under /tmp, so that another user can reach it (the test's own temporary directory is private).
    shared = mkdtempSync('/tmp/credrelay-shared-');
    chmodSync(shared, 0o1777); // like /tmp itself
  });
  // The swapper's group is dead before this runs (the test waits for it), so nothing adds to the directory now.
  afterAll(() => rmSync(shared, { recursive: true, force: true, maxRetries: 3 }));

  it('is not created there: the request is served in-process, and the notice says how to fix it', async () => {
    const dir = join(shared, 'victim-run');
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: dir };
    const got = await runHelper('get', 'rt.example', { ...env });
    expect(got.stderr).toMatch(
      /does not exist, and .*credrelay-shared-\w+ can be written by others, who could create it first: create it yourself \(mkdir -m 700/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('another user who plants a link there receives nothing', async () => {
    const attackerDir = join(shared, 'attacker');
    mkdirSync(attackerDir);
    chownSync(attackerDir, 65534, 65534);
    chmodSync(attackerDir, 0o777);
    const dir = join(shared, 'victim-run-2');
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'ln', '-s', attackerDir, dir]);
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: dir };
    const planted = await listenCounting(join(attackerDir, basename(daemonSocketFor(env))));
    try {
      expect((await runHelper('store', STORED, env)).code).toBe(0);
      const got = await runHelper('get', 'rt.example', env);
      expect(JSON.parse(got.stdout)).toMatchObject({ Secret: 'runtime-dir-canary' });
      expect(got.stderr).toMatch(/the runtime directory .*victim-run-2 is a symbolic link/);
      expect(planted.connections()).toBe(0);
    } finally {
      planted.server.close();
    }
  });

  it('one the user made private beforehand is used', async () => {
    const dir = join(shared, 'prepared-run');
    mkdirSync(dir, { mode: 0o700 });
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: dir };
    const got = await runHelper('get', 'rt.example', env);
    expect(got.stderr).toBe('');
    expect(existsSync(daemonSocketFor(env))).toBe(true);
    await stopCredrelayDaemon(dir);
  });
});

describe('a relative CREDRELAY_RUNTIME_DIR', () => {
  it('is refused as the config and key-file paths are: in-process, with the reason, and nothing made from /', async () => {
    const name = `rt-relative-${process.pid}`;
    const cwd = join(scratch.path, 'cwd');
    mkdirSync(cwd, { recursive: true });
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: name };
    expect((await run(HELPER_PATH, ['store'], { env, cwd, input: STORED })).code).toBe(0);
    const got = await run(HELPER_PATH, ['get'], { env, cwd, input: 'rt.example' });
    expect(JSON.parse(got.stdout).Secret).toBe('runtime-dir-canary');
    expect(got.stderr).toMatch(
      new RegExp(
        `^credrelay: not using the daemon: the runtime directory "${name}" is a relative path \\(CREDRELAY_RUNTIME_DIR must be absolute\\)`,
      ),
    );
    expect(existsSync(join('/', name))).toBe(false);
    expect(existsSync(join(cwd, name))).toBe(false);
  });
});

describe('a runtime directory under a directory others can write that is not sticky', () => {
  let shared: string;
  beforeAll(() => {
    shared = mkdtempSync('/tmp/credrelay-open-');
    chmodSync(shared, 0o777); // not sticky: anyone may rename or replace what is in it
  });
  // The swapper's group is dead before this runs (the test waits for it), so nothing adds to the directory now.
  afterAll(() => rmSync(shared, { recursive: true, force: true, maxRetries: 3 }));

  it('is refused, so another user swapping it for a link to theirs receives no request', async () => {
    const dir = join(shared, 'rt');
    mkdirSync(dir, { mode: 0o700 });
    const attackerDir = join(shared, 'attacker');
    mkdirSync(attackerDir);
    chownSync(attackerDir, 65534, 65534);
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: dir };
    const planted = await listenCounting(join(attackerDir, basename(daemonSocketFor(env))));
    // Another user keeps swapping the runtime directory for a link to theirs, and back.
    const swapper = spawn(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'sh',
        '-c',
        `while :; do mv ${dir} ${dir}.real 2>/dev/null && ln -s ${attackerDir} ${dir} && rm ${dir} && mv ${dir}.real ${dir}; done`,
      ],
      { stdio: 'ignore', detached: true }, // its own group, so the loop's mv and ln die with it
    );
    const swapperExited = new Promise((resolve) => swapper.once('exit', resolve));
    try {
      const stores = Array.from({ length: 30 }, (_, index) =>
        JSON.stringify({ ServerURL: `rt-${index}.example`, Username: 'u', Secret: `swap-canary-${index}` }),
      );
      const reasons: string[] = [];
      for (const stored of stores) {
        const result = await runHelper('store', stored, env);
        expect(result.code).toBe(0); // in-process
        expect(result.stderr).toMatch(/^credrelay: not using the daemon: the runtime directory /);
        reasons.push(result.stderr);
      }
      // Whatever the swap showed at that moment (a link, nothing), the directory above is the reason it is refused.
      expect(reasons.some((reason) => /which others can write \(mode 0777\) and so swap it/.test(reason))).toBe(true);
      expect(planted.connections()).toBe(0);
    } finally {
      process.kill(-(swapper.pid as number), 'SIGKILL');
      await swapperExited;
      planted.server.close();
    }
  });
});
