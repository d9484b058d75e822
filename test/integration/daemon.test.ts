import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { type Server, createConnection, createServer } from 'node:net';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionsTo, daemonPid, daemonProcesses, isAlive } from '../support/daemon.js';
import {
  daemonSocketFor,
  helperEnvironment,
  CLI,
  REPO_ROOT,
  run,
  runHelper,
  VERSION,
  VERSION_PATTERN,
} from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

const CANARY = 'daemon-canary-secret-4417';

let session: Keyring;
let env: Record<string, string>;
let socketPath: string;

beforeAll(async () => {
  session = await startKeyring();
  env = { ...session.env, CREDRELAY_LOG_LEVEL: 'debug' };
  socketPath = daemonSocketFor(env);
});
afterAll(async () => {
  await session.stop();
});

const store = (host: string, env_ = env) =>
  runHelper('store', JSON.stringify({ ServerURL: host, Username: 'ivan', Secret: CANARY }), env_);
const get = (host: string, env_ = env) => runHelper('get', host, env_);
const expectCredential = (result: { stdout: string; code: number | null }, host: string) => {
  expect(result).toMatchObject({ code: 0, stdout: `{"ServerURL":"${host}","Username":"ivan","Secret":"${CANARY}"}\n` });
};
/**
 * The state most tests start from, whatever ran before them: the credential stored (in-process, so that no daemon is
 * started by it), and with `daemon`, a daemon running.
 */
async function given(options: { daemon?: boolean } = {}): Promise<void> {
  expect((await store('reg.example:5000', { ...env, CREDRELAY_NO_DAEMON: '1' })).code).toBe(0);
  if (options.daemon) expectCredential(await get('reg.example:5000'), 'reg.example:5000');
}
const waitForExit = (pid: number) => waitFor(`pid ${pid} to exit`, () => !isAlive(pid));
const logText = () => readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');

/** One raw request line to the daemon, returning every reply line until it closes the connection. */
function rawRequest(path: string, payload: string | Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let data = '';
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error),
    );
    socket.on('close', () => resolve(data.split('\n').filter(Boolean)));
  });
}

describe('starting on demand', () => {
  it('the first call starts a daemon on a private socket; later calls reuse it', async () => {
    expect(await store('reg.example:5000')).toMatchObject({ code: 0, stdout: '' });
    const pid = daemonPid(session.runtimeDir);
    expect(pid).toBeDefined();
    expect(statSync(session.runtimeDir).mode & 0o777).toBe(0o700);
    expect(statSync(socketPath).isSocket()).toBe(true);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expectCredential(await get('reg.example:5000'), 'reg.example:5000');
    expect(daemonPid(session.runtimeDir)).toBe(pid);
    expect(daemonProcesses(session.env.XDG_RUNTIME_DIR!)).toEqual([pid]);
  });

  it('CREDRELAY_NO_DAEMON=1 serves in-process and starts nothing', async () => {
    await given();
    const runtime = makeTempDir('no-daemon');
    try {
      const isolated = { ...env, XDG_RUNTIME_DIR: runtime.path, CREDRELAY_NO_DAEMON: '1' };
      expectCredential(await get('reg.example:5000', isolated), 'reg.example:5000');
      expect(existsSync(join(runtime.path, 'credrelay'))).toBe(false);
    } finally {
      runtime.remove();
    }
  });
});

describe('faults', () => {
  it('a daemon killed with SIGKILL between calls: the next call succeeds with a new daemon', async () => {
    await given({ daemon: true });
    const killed = daemonPid(session.runtimeDir)!;
    process.kill(killed, 'SIGKILL');
    await waitForExit(killed);
    expect(existsSync(socketPath)).toBe(true); // stale socket and pid file left behind
    expectCredential(await get('reg.example:5000'), 'reg.example:5000');
    const replacement = daemonPid(session.runtimeDir);
    expect(replacement).not.toBe(killed);
    expect(daemonProcesses(session.env.XDG_RUNTIME_DIR!)).toEqual([replacement]);
  });

  it('a daemon killed with SIGKILL during a call: that call still succeeds', async () => {
    await given({ daemon: true });
    const victim = daemonPid(session.runtimeDir)!;
    process.kill(victim, 'SIGSTOP'); // so that the request is certainly in flight when the daemon dies
    const pending = get('reg.example:5000');
    await waitFor('the call to reach the stopped daemon', () => connectionsTo(socketPath) > 0);
    process.kill(victim, 'SIGKILL');
    const result = await pending;
    expectCredential(result, 'reg.example:5000');
    expect(result.stderr).toMatch(/serving this request in-process/);
    await waitForExit(victim);
  });

  it('an unresponsive daemon (SIGSTOP): the client gives up within seconds, says so, and serves in-process', async () => {
    await given({ daemon: true }); // a live daemon again
    const stopped = daemonPid(session.runtimeDir)!;
    process.kill(stopped, 'SIGSTOP');
    try {
      const started = Date.now();
      const result = await get('reg.example:5000');
      const elapsed = Date.now() - started;
      expectCredential(result, 'reg.example:5000');
      expect(result.stderr).toMatch(
        /^credrelay: the daemon did not answer within 2 s; serving this request in-process/,
      );
      expect(elapsed).toBeLessThan(6000);
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
  });

  it('20 clients cold-starting at once all succeed, and exactly one daemon runs', async () => {
    await given({ daemon: true });
    const previous = daemonPid(session.runtimeDir)!;
    process.kill(previous, 'SIGTERM');
    await waitForExit(previous);
    const logBefore = logText().length;
    const results = await Promise.all(Array.from({ length: 20 }, () => get('reg.example:5000')));
    for (const result of results) expectCredential(result, 'reg.example:5000');
    expect(daemonProcesses(session.env.XDG_RUNTIME_DIR!)).toEqual([daemonPid(session.runtimeDir)]);
    expect(
      logText()
        .slice(logBefore)
        .match(/"daemon started"/g),
    ).toHaveLength(1);
  });
});

describe('a runtime directory that is not private is never used', () => {
  /** A socket planted where the client would look, counting the connections it receives. */
  async function plant(dir: string): Promise<{ server: Server; connections: () => number }> {
    let connections = 0;
    const server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(join(dir, basename(daemonSocketFor(env))), resolve));
    return { server, connections: () => connections };
  }

  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['world-writable', (dir) => chmodSync(dir, 0o777), /writable by others \(mode 0777\)/],
    ['group-writable', (dir) => chmodSync(dir, 0o770), /writable by others \(mode 0770\)/],
    ['owned by another user', (dir) => chownSync(dir, 65534, 65534), /belongs to uid 65534, not to you/],
  ];
  it.each(cases)(
    '%s: refused with a reason on stderr, the planted socket gets nothing, the answer comes in-process',
    async (_name, spoil, reason) => {
      await given();
      const runtime = makeTempDir('planted');
      try {
        const dir = join(runtime.path, 'credrelay');
        mkdirSync(dir, { mode: 0o700 });
        const planted = await plant(dir);
        spoil(dir);
        const result = await get('reg.example:5000', { ...env, XDG_RUNTIME_DIR: runtime.path });
        expectCredential(result, 'reg.example:5000');
        expect(result.stderr).toMatch(reason);
        expect(result.stderr).toMatch(/serving this request in-process/);
        const stored = await store('planted.example', { ...env, XDG_RUNTIME_DIR: runtime.path });
        expect(stored.code).toBe(0);
        expect(planted.connections()).toBe(0);
        planted.server.close();
      } finally {
        runtime.remove();
      }
    },
  );

  it('a symbolic link in place of the directory is refused too', async () => {
    await given();
    const runtime = makeTempDir('symlinked');
    try {
      const elsewhere = join(runtime.path, 'elsewhere');
      mkdirSync(elsewhere, { mode: 0o700 });
      symlinkSync(elsewhere, join(runtime.path, 'credrelay'));
      const planted = await plant(elsewhere);
      const result = await get('reg.example:5000', { ...env, XDG_RUNTIME_DIR: runtime.path });
      expectCredential(result, 'reg.example:5000');
      expect(result.stderr).toMatch(/is a symbolic link/);
      expect(planted.connections()).toBe(0);
      planted.server.close();
    } finally {
      runtime.remove();
    }
  });

  it('another user cannot connect: the directory is 0700 and the socket itself 0600', async () => {
    await given({ daemon: true });
    const probe = `require('node:net').createConnection(${JSON.stringify(socketPath)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`;
    const asNobody = () =>
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe], {
        encoding: 'utf8',
      }).trim();
    // The session's XDG_RUNTIME_DIR lies inside a private temp dir: let the other user reach our directory.
    for (const dir of [session.root, session.env.XDG_RUNTIME_DIR!]) chmodSync(dir, 0o711);
    try {
      expect(asNobody()).toBe('EACCES');
      chmodSync(session.runtimeDir, 0o711); // even with the directory traversable, the socket's own mode refuses
      expect(asNobody()).toBe('EACCES');
    } finally {
      chmodSync(session.runtimeDir, 0o700);
      chmodSync(session.env.XDG_RUNTIME_DIR!, 0o700);
      chmodSync(session.root, 0o700);
    }
  });
});

describe('the wire', () => {
  it('a malformed request gets an error reply and its connection closed; others are still served', async () => {
    await given({ daemon: true });
    expect(await rawRequest(socketPath, 'this is not json\n')).toEqual([
      expect.stringContaining('"code":"BAD_REQUEST"'),
    ]);
    expect(await rawRequest(socketPath, `{"v":"${VERSION}","op":"format-disk"}\n`)).toEqual([
      expect.stringContaining('BAD_REQUEST'),
    ]);
    expectCredential(await get('reg.example:5000'), 'reg.example:5000');
  });

  it('an oversized request gets an error reply and its connection closed; others are still served', async () => {
    await given({ daemon: true });
    const replies = await rawRequest(socketPath, Buffer.alloc(3 * 1024 * 1024, 'x'));
    expect(replies).toEqual([expect.stringContaining('"code":"REQUEST_TOO_LARGE"')]);
    expectCredential(await get('reg.example:5000'), 'reg.example:5000');
  });

  it('acknowledges a request before answering it', async () => {
    await given({ daemon: true });
    const input = Buffer.from('reg.example:5000').toString('base64');
    const replies = await rawRequest(
      socketPath,
      `${JSON.stringify({ v: VERSION, op: 'protocol', action: 'get', input })}\n`,
    );
    expect(replies[0]).toBe('{"ack":true}');
    expect(JSON.parse(replies[1]!)).toMatchObject({ ok: true, result: { exitCode: 0 } });
  });
});

describe('upgrades: a client that finds a daemon of another version replaces it', () => {
  it('asks the old daemon to exit and starts its own', async () => {
    await given({ daemon: true });
    const current = daemonPid(session.runtimeDir)!;
    process.kill(current, 'SIGTERM');
    await waitForExit(current);

    // An "old release": the same build under another version number.
    const old = makeTempDir('old-release');
    try {
      cpSync(join(REPO_ROOT, 'dist'), join(old.path, 'dist'), { recursive: true });
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(old.path, 'node_modules'));
      const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(old.path, 'package.json'), JSON.stringify({ ...manifest, version: '0.0.1-old' }));
      const oldDaemon = spawn(process.execPath, [join(old.path, 'dist/src/daemon/main.js')], {
        env: helperEnvironment(env),
        stdio: 'ignore',
      });
      await waitFor(
        'the old daemon to listen',
        () => existsSync(socketPath) && daemonPid(session.runtimeDir) === oldDaemon.pid,
      );
      const status = await rawRequest(socketPath, `${JSON.stringify({ v: '0.0.1-old', op: 'status' })}\n`);
      expect(JSON.parse(status[1]!)).toMatchObject({ ok: true, result: { version: '0.0.1-old' } });

      expectCredential(await get('reg.example:5000'), 'reg.example:5000');
      await waitForExit(oldDaemon.pid!);
      const replacement = await run(CLI, ['daemon', 'status', '--json'], { env });
      expect(JSON.parse(replacement.stdout)).toMatchObject({ version: VERSION, pid: daemonPid(session.runtimeDir) });
      expect(daemonPid(session.runtimeDir)).not.toBe(oldDaemon.pid);
    } finally {
      old.remove();
    }
  });
});

describe('the log', () => {
  it('is readable by the user only and never holds a secret, even at debug level', async () => {
    await store('logged.example');
    await get('logged.example');
    const path = join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(session.env.XDG_STATE_HOME!, 'credrelay')).mode & 0o777).toBe(0o700);
    const text = logText();
    expect(text).toMatch(/"msg":"request served","op":"protocol","action":"get"/);
    expect(text).not.toContain(CANARY);
  });
});

describe('credrelay daemon and cache commands', () => {
  const cli = (...args: string[]) => run(CLI, args, { env });

  it('status shows pid, version, uptime, socket and cache size; exits 1 when none runs', async () => {
    await given({ daemon: true });
    const status = await cli('daemon', 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`running\\s+pid ${daemonPid(session.runtimeDir)}, version 0\\.1\\.0, up \\d+s`),
    );
    expect(status.stdout).toContain(`socket      ${socketPath}`);
    expect(status.stdout).toMatch(/cache\s+0 token\(s\)/);

    expect(await cli('daemon', 'stop')).toMatchObject({ code: 0, stdout: 'daemon stopped\n' });
    expect(existsSync(socketPath)).toBe(false);
    const none = await cli('daemon', 'status');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no daemon is running on/);
    expect(await cli('daemon', 'stop')).toMatchObject({ code: 0, stdout: 'no daemon is running\n' });
  });

  it('start starts one, and says so when one already runs', async () => {
    await cli('daemon', 'stop');
    expect((await cli('daemon', 'start')).stdout).toMatch(/^daemon started \(pid \d+\)/);
    expect((await cli('daemon', 'start')).stdout).toMatch(
      new RegExp(`^the daemon is already running \\(pid \\d+, version ${VERSION_PATTERN}\\)`),
    );
    expect(daemonProcesses(session.env.XDG_RUNTIME_DIR!)).toHaveLength(1);
  });

  it('cache list and clear answer from the running daemon', async () => {
    await given({ daemon: true });
    expect(await cli('cache', 'list')).toMatchObject({ code: 0, stdout: 'the cache is empty\n' });
    expect(JSON.parse((await cli('cache', 'list', '--json')).stdout)).toEqual([]);
    expect(await cli('cache', 'clear', 'reg.example:5000')).toMatchObject({
      code: 0,
      stdout: 'removed 0 cached token(s)\n',
    });
  });

  it('run stays in the foreground and removes its socket on SIGTERM and SIGINT', async () => {
    await given();
    await cli('daemon', 'stop');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const foreground = spawn(CLI, ['daemon', 'run'], {
        env: helperEnvironment(env),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      foreground.stderr.on('data', (chunk) => (stderr += chunk));
      await waitFor('the foreground daemon to listen', () => stderr.includes('listening on'));
      expect(stderr).toMatch(
        new RegExp(`credrelay daemon ${VERSION_PATTERN} \\(pid \\d+\\) listening on .*daemon-[\\w-]+\\.sock; log: `),
      );
      expectCredential(await get('reg.example:5000'), 'reg.example:5000');
      const exited = new Promise<number | null>((resolve) => foreground.on('exit', resolve));
      foreground.kill(signal);
      expect(await exited).toBe(0);
      expect(existsSync(socketPath)).toBe(false);
      expect(existsSync(join(session.runtimeDir, 'daemon.pid'))).toBe(false);
    }
  });
});

describe('configuration: idle exit and reloading', () => {
  let configured: Keyring;
  let configPath: string;
  const status = async () =>
    JSON.parse((await run(CLI, ['daemon', 'status', '--json'], { env: configured.env })).stdout) as {
      idleTimeoutSeconds: number;
      pid: number;
    };

  beforeAll(async () => {
    configured = await startKeyring();
    configPath = join(configured.env.XDG_CONFIG_HOME!, 'credrelay', 'config.json');
    mkdirSync(join(configured.env.XDG_CONFIG_HOME!, 'credrelay'), { recursive: true });
  });
  afterAll(async () => {
    await configured.stop();
  });

  it('reloads when the config file changes; a file turned to garbage fails every request until it is fixed', async () => {
    writeFileSync(configPath, JSON.stringify({ daemon: { idleTimeoutSeconds: 600 } }));
    await runHelper('list', '', configured.env);
    expect((await status()).idleTimeoutSeconds).toBe(600);
    writeFileSync(configPath, JSON.stringify({ daemon: { idleTimeoutSeconds: 900 } }));
    expect((await status()).idleTimeoutSeconds).toBe(900); // the very next request, not after a poll
    writeFileSync(configPath, '{ this is not json');
    await status(); // the next request sees the file as saved: no polling window
    const log = join(configured.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log');
    expect(readFileSync(log, 'utf8')).toMatch(
      /"configuration rejected; every request fails with its error until it is fixed".*is not valid JSON/,
    );
    // As in-process: the error, not the last good configuration. The idle timeout stays as it was.
    expect((await status()).idleTimeoutSeconds).toBe(900);
    const list = await runHelper('list', '', configured.env);
    expect(list.code).toBe(1);
    expect(list.stdout).toMatch(/line 1, column 3, is not valid JSON/);
    writeFileSync(configPath, JSON.stringify({ daemon: { idleTimeoutSeconds: 900 } }));
    expect(JSON.parse((await runHelper('list', '', configured.env)).stdout)).toEqual({});
  });

  it('reloads on SIGHUP', async () => {
    await runHelper('list', '', configured.env); // a running daemon
    writeFileSync(configPath, JSON.stringify({ daemon: { idleTimeoutSeconds: 1200 } }));
    process.kill((await status()).pid, 'SIGHUP');
    const log = join(configured.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log');
    await waitFor(
      'a SIGHUP reload',
      () => /"configuration reloaded","reason":"SIGHUP"/.test(readFileSync(log, 'utf8')),
      5000,
    );
    expect((await status()).idleTimeoutSeconds).toBe(1200);
  });

  it('exits after the idle timeout, removing its socket', async () => {
    // The pid first: with a 1-second timeout the daemon may be gone before a slower question could reach it.
    await runHelper('list', '', configured.env);
    const { pid } = await status();
    writeFileSync(configPath, JSON.stringify({ daemon: { idleTimeoutSeconds: 1 } }));
    process.kill(pid, 'SIGHUP');
    await waitForExit(pid);
    expect(existsSync(daemonSocketFor(configured.env))).toBe(false);
  });
});
