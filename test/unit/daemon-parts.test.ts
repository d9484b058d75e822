import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectRuntimeDir } from '../../src/core/wire/runtime-dir.js';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, loadConfig, parseConfig } from '../../src/core/config.js';
import { isCredrelayDaemon, processStartTicks } from '../../src/core/util/process.js';
import { acquireInstanceLock } from '../../src/daemon/instance-lock.js';
import { createFileLogger, parseLogLevel, redactText } from '../../src/core/logger.js';
import { LineSplitter } from '../../src/core/wire/framing.js';
import { resolvePaths } from '../../src/core/paths.js';
import { makeTempDir } from '../support/temp.js';

const scratch = makeTempDir('daemon-parts');
afterAll(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => join(scratch.path, `${name}-${(counter += 1)}`);

describe('LineSplitter', () => {
  it('splits lines across chunks', () => {
    const splitter = new LineSplitter(100);
    expect(splitter.push(Buffer.from('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(splitter.push(Buffer.from(':2}\n\n'))).toEqual(['{"b":2}', '']);
  });
  it('refuses a line over the limit before holding more than it', () => {
    const splitter = new LineSplitter(10);
    expect(() => splitter.push(Buffer.alloc(11, 'a'))).toThrow(RangeError);
    expect(() => new LineSplitter(10).push(Buffer.from(`${'a'.repeat(11)}\n`))).toThrow(RangeError);
  });
});

describe('one daemon per environment', () => {
  const base = { HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000', AWS_PROFILE: 'a' };
  it('gives each relevant environment its own socket, pid file and launch lock', () => {
    const a = resolvePaths(base);
    const b = resolvePaths({ ...base, AWS_PROFILE: 'b' });
    const none = resolvePaths({ ...base, AWS_PROFILE: undefined });
    expect(new Set([a.socketPath, b.socketPath, none.socketPath]).size).toBe(3);
    expect(a.pidPath).toBe(`/run/user/1000/credrelay/daemon-${a.environment}.pid`);
    expect(a.launchLockPath).toBe(`/run/user/1000/credrelay/launch-${a.environment}.lock`);
  });
  it('ignores only the listed variables (the shell, per-step CI bookkeeping, TMPDIR), and starts the daemon without them', () => {
    const noisy = resolvePaths({
      ...base,
      PWD: '/elsewhere',
      SHLVL: '3',
      _: '/usr/bin/docker',
      TMPDIR: '/var/tmp',
      GITHUB_OUTPUT: '/w/_temp/set_output_7',
      INPUT_REGISTRY: 'x',
    });
    expect(noisy.environment).toBe(resolvePaths(base).environment);
    expect(noisy.daemonEnvironment).toEqual(base);
  });
  it('counts every other variable, whatever its case, whoever reads it', () => {
    for (const name of [
      'google_application_credentials',
      'GCLOUD_PROJECT',
      'CLOUD_RUN_JOB',
      'REGISTRY_TOKEN',
      'HYPERFINE_ITERATION',
      'tmpdir',
      'Pwd',
    ]) {
      expect(resolvePaths({ ...base, [name]: 'one' }).environment, name).not.toBe(
        resolvePaths({ ...base, [name]: 'two' }).environment,
      );
    }
  });
  it('starts a daemon with only the Node options that cannot open it to others', () => {
    const paths = resolvePaths({ ...base, NODE_OPTIONS: '--inspect=127.0.0.1:0 --use-openssl-ca --require /tmp/x.js' });
    expect(paths.daemonEnvironment.NODE_OPTIONS).toBe('--use-openssl-ca');
    expect(resolvePaths({ ...base, NODE_OPTIONS: '--inspect-brk' }).daemonEnvironment).not.toHaveProperty(
      'NODE_OPTIONS',
    );
    // The options a daemon takes tell environments apart; the caller's own debugging does not start a daemon each.
    expect(paths.environment).not.toBe(resolvePaths(base).environment);
    expect(resolvePaths({ ...base, NODE_OPTIONS: '--inspect-brk' }).environment).toBe(resolvePaths(base).environment);
  });
  it('names files by a hash that does not show the values', () => {
    expect(resolvePaths({ ...base, AWS_SECRET_ACCESS_KEY: 'visible-value' }).socketPath).not.toContain('visible');
  });
});

describe('resolvePaths', () => {
  it('puts the socket under $XDG_RUNTIME_DIR/credrelay, or the cache directory without it', () => {
    expect(resolvePaths({ XDG_RUNTIME_DIR: '/run/user/1000' }).socketPath).toMatch(
      /^\/run\/user\/1000\/credrelay\/daemon-[\w-]{16}\.sock$/,
    );
    expect(resolvePaths({ XDG_CACHE_HOME: '/c' }).runtimeDir).toBe('/c/credrelay/run');
    expect(resolvePaths({ CREDRELAY_RUNTIME_DIR: '/x', XDG_RUNTIME_DIR: '/run/user/1' }).socketPath).toMatch(
      /^\/x\/daemon-[\w-]{16}\.sock$/,
    );
    expect(resolvePaths({ XDG_RUNTIME_DIR: 'relative' }).runtimeDir).toMatch(/\.cache\/credrelay\/run$/);
  });
  it('puts the log under $XDG_STATE_HOME and the config under $XDG_CONFIG_HOME or $CREDRELAY_CONFIG', () => {
    const paths = resolvePaths({ XDG_STATE_HOME: '/s', XDG_CONFIG_HOME: '/cfg' });
    expect(paths.logPath).toBe('/s/credrelay/daemon.log');
    expect(paths.configPath).toBe('/cfg/credrelay/config.json');
    expect(resolvePaths({ CREDRELAY_CONFIG: '/etc/c.json' }).configPath).toBe('/etc/c.json');
  });
});

describe('inspectRuntimeDir', () => {
  it('accepts a private directory of ours and reports a missing one', () => {
    const dir = fresh('private');
    expect(inspectRuntimeDir(dir)).toEqual({ state: 'missing' });
    mkdirSync(dir, { mode: 0o700 });
    expect(inspectRuntimeDir(dir)).toEqual({ state: 'safe' });
  });
  it.each([0o777, 0o770, 0o702, 0o1777])('refuses mode %o', (mode) => {
    const dir = fresh('open');
    mkdirSync(dir);
    chmodSync(dir, mode);
    expect(inspectRuntimeDir(dir)).toMatchObject({
      state: 'unsafe',
      reason: expect.stringMatching(/writable by others/),
    });
  });
  it('refuses a symbolic link and a file', () => {
    const target = fresh('target');
    mkdirSync(target, { mode: 0o700 });
    const link = fresh('link');
    symlinkSync(target, link);
    expect(inspectRuntimeDir(link)).toMatchObject({ state: 'unsafe', reason: expect.stringMatching(/symbolic link/) });
    const file = fresh('file');
    writeFileSync(file, '');
    expect(inspectRuntimeDir(file)).toMatchObject({
      state: 'unsafe',
      reason: expect.stringMatching(/not a directory/),
    });
  });
});

describe('config', () => {
  it('is the default without a file', () => {
    const path = fresh('none.json');
    expect(loadConfig(path)).toEqual({
      path,
      daemon: { idleTimeoutSeconds: 1800 },
      registries: [],
      plugins: [],
      store: 'auto',
      environment: [],
      secrets: {},
    });
    expect(DEFAULT_IDLE_TIMEOUT_SECONDS).toBe(1800);
  });
  it('reads "store", and refuses a store it does not know', () => {
    expect(parseConfig({ store: 'file' }).store).toBe('file');
    expect(parseConfig({ store: 'os' }).store).toBe('os');
    expect(() => parseConfig({ store: 'pass' })).toThrowError(/"store" must be "auto" .* or "file"/);
    expect(parseConfig({ environment: ['CI_JOB_TOKEN', 'CORP_*'] }).environment).toEqual(['CI_JOB_TOKEN', 'CORP_*']);
    expect(() => parseConfig({ environment: ['BAD-NAME'] })).toThrowError(
      /"environment" must be a list of variable names/,
    );
  });
  it('reads daemon.idleTimeoutSeconds', () => {
    expect(parseConfig({ daemon: { idleTimeoutSeconds: 5 } }).daemon.idleTimeoutSeconds).toBe(5);
  });
  it.each([
    [[], /top level must be a JSON object/],
    [{ deamon: {} }, /"deamon" is not known; the known top-level keys are "registries", "plugins", "daemon"/],
    [{ daemon: 5 }, /"daemon" must be an object/],
    [{ daemon: { idle: 5 } }, /"daemon.idle" is not known/],
    [{ daemon: { idleTimeoutSeconds: -1 } }, /must be a positive number of seconds/],
    [{ daemon: { idleTimeoutSeconds: '30' } }, /must be a positive number of seconds/],
  ])('rejects %j, naming the key and the fix', (document, message) => {
    expect(() => parseConfig(document, '/c.json')).toThrowError(message);
  });
  it('rejects a file that is not JSON', () => {
    const path = fresh('bad.json');
    writeFileSync(path, '{nope');
    expect(() => loadConfig(path)).toThrowError(/is not valid JSON/);
  });
});

describe('acquireInstanceLock', () => {
  it('lets one holder in, and takes over a pid file whose process is gone', () => {
    const pidPath = fresh('daemon.pid');
    const release = acquireInstanceLock(pidPath);
    expect(release).toBeTypeOf('function');
    // The pid and when the process started, so that a pid reused by a later process is not taken for the holder.
    expect(readFileSync(pidPath, 'utf8').trim()).toBe(`${process.pid} ${processStartTicks(process.pid)}`);
    expect(processStartTicks(process.pid)).toBeGreaterThan(0);
    expect(acquireInstanceLock(pidPath)).toBeUndefined();
    release?.();
    writeFileSync(pidPath, '2147483646\n'); // No such process.
    const takeover = acquireInstanceLock(pidPath);
    expect(takeover).toBeTypeOf('function');
    takeover?.();
    // Processes that are not daemons, whatever can be read of them: the machine's init, this test's own Node.
    expect(isCredrelayDaemon(1)).toBe(false);
    expect(isCredrelayDaemon(process.pid)).toBe(false);
    // A live process that started at another time than the file says: the file is stale.
    writeFileSync(pidPath, `${process.ppid} 1\n`);
    const reused = acquireInstanceLock(pidPath);
    expect(reused).toBeTypeOf('function');
    reused?.();
  });
});

describe('file logger', () => {
  it('writes JSON lines to a 0600 file, honouring the level', () => {
    const path = join(fresh('logs'), 'daemon.log');
    const logger = createFileLogger({ path, level: 'info' });
    logger.debug('hidden');
    logger.info('shown', { registry: 'r.example' });
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ level: 'info', msg: 'shown', registry: 'r.example' })]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
  it('redacts secret-named fields, remembered secrets and token shapes at every level', () => {
    const path = join(fresh('logs'), 'daemon.log');
    const logger = createFileLogger({ path, level: 'debug' });
    logger.redact('remembered-canary');
    logger.debug('failed for remembered-canary', {
      password: 'field-canary',
      note: 'Bearer abcdefghijklmnop',
      jwt: 'eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0NTY3.sig',
    });
    const text = readFileSync(path, 'utf8');
    for (const canary of ['remembered-canary', 'field-canary', 'abcdefghijklmnop', 'eyJhbGciOiJIUzI1'])
      expect(text).not.toContain(canary);
    expect(text).toContain('[redacted]');
  });
  it('bounds the file: at the limit it moves to .1', () => {
    const path = join(fresh('logs'), 'daemon.log');
    const logger = createFileLogger({ path, level: 'info', maxBytes: 500 });
    for (let i = 0; i < 20; i += 1) logger.info(`line ${i}`);
    expect(statSync(path).size).toBeLessThanOrEqual(500);
    expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(500);
    expect(readFileSync(path, 'utf8')).toContain('line 19');
  });
  it('drops a line it cannot write instead of throwing', () => {
    const blocker = fresh('blocker');
    writeFileSync(blocker, 'a file where the log directory should be');
    const logger = createFileLogger({ path: join(blocker, 'daemon.log'), level: 'info' });
    expect(() => logger.error('still alive')).not.toThrow();
  });
  it('parses levels, defaulting to info', () => {
    expect(parseLogLevel('debug')).toBe('debug');
    expect(parseLogLevel('loud')).toBe('info');
    expect(parseLogLevel(undefined)).toBe('info');
    expect(redactText('a secret b', ['secret'])).toBe('a [redacted] b');
  });
});
