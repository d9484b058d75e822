import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHome, makeClientHome } from '../support/client-home.js';
import { writeCredrelayConfig } from '../support/config.js';
import { daemonProcesses, isAlive } from '../support/daemon.js';
import { CLI, REPO_ROOT, daemonPidFor, helperEnvironment, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';
import { waitFor } from '../support/wait.js';
import { resolvePaths } from '../../src/core/paths.js';
import { isCredrelayDaemon } from '../../src/core/util/process.js';

/**
 * The daemon never becomes a second source of truth: a broken configuration fails the same way with or without it,
 * errors reach the Docker user, its status is honest about a daemon that does not answer, and exactly one starts.
 */
let session: Keyring;
let registry: Registry;
let env: Record<string, string | undefined>;
let configPath: string;

const logText = () => {
  try {
    return readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');
  } catch {
    return '';
  }
};
const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
  run(CLI, args, { env: { ...env, ...extra } });
const writeConfig = (text: string) => writeFileSync(configPath, text);

beforeAll(async () => {
  [session, registry] = await Promise.all([startKeyring(), startRegistry('state-user', 'state-pass-8120')]);
  env = { ...session.env };
  configPath = join(session.env.XDG_CONFIG_HOME!, 'credrelay', 'config.json');
  mkdirSync(join(session.env.XDG_CONFIG_HOME!, 'credrelay'), { recursive: true });
});
afterAll(async () => {
  await session.stop();
  await registry.stop();
});

describe('a broken configuration is the same failure everywhere', () => {
  const broken = '{\n  "registries": {\n    "r.example": { "provider": "ecr" },\n  }\n}\n';
  const expected =
    /^invalid configuration in .*config\.json: the file, at line 4, column 3, is not valid JSON: fix it there, or move the file away to use the defaults\n$/;

  it('with no daemon, with a daemon, and in-process: at once, naming the line and column', async () => {
    await stopCredrelayDaemon(session.runtimeDir);
    writeConfig(broken);
    const started = Date.now();
    const cold = await runHelper('get', 'r.example', env);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(cold.stdout).toMatch(expected);
    expect(cold.stderr).toBe(`credrelay: ${cold.stdout}`); // Docker shows stderr for get
    const warm = await runHelper('get', 'r.example', env);
    const inProcess = await runHelper('get', 'r.example', { ...env, CREDRELAY_NO_DAEMON: '1' });
    expect(warm).toEqual(cold);
    expect(inProcess).toEqual(cold);
    const status = JSON.parse((await cli(['daemon', 'status', '--json'])).stdout) as { configError: string };
    expect(status.configError).toMatch(/line 4, column 3/);
    const doctor = await cli(['doctor']);
    expect(doctor.stdout).toMatch(/^✗ config +invalid configuration in .*line 4, column 3/m);
    expect(doctor.stdout).toMatch(/fix: edit .*config\.json where the message says/);
  });

  it('a daemon that had a good configuration fails the same way once it turns broken, and recovers when fixed', async () => {
    writeConfig('{}');
    expect((await runHelper('list', '', env)).stdout).toBe('{}\n');
    writeConfig(broken);
    const list = await runHelper('list', '', env);
    expect(list.code).toBe(1);
    expect(list.stdout).toMatch(expected);
    writeConfig('{}');
    expect((await runHelper('list', '', env)).stdout).toBe('{}\n');
  });
});

describe('errors Docker users see', () => {
  let client: ClientHome;
  beforeAll(() => {
    client = makeClientHome();
    client.writeDockerConfig({ credsStore: 'credrelay' });
  });
  afterAll(() => client.remove());

  it('docker manifest inspect against a route whose secret is unset prints why; not-found stays silent', async () => {
    writeConfig(
      JSON.stringify({ registries: { [registry.host]: { username: 'state-user', password: '$STATE_SECRET' } } }),
    );
    const clientEnv = { ...env, ...client.env, STATE_SECRET: undefined };
    const result = await run('docker', ['manifest', 'inspect', '--insecure', `${registry.host}/missing:v1`], {
      env: clientEnv,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /credrelay: secret STATE_SECRET is not set: run `credrelay secrets set STATE_SECRET`/,
    );

    const notFound = await runHelper('get', 'nothing-here.example', clientEnv);
    expect(notFound).toMatchObject({ stdout: 'credentials not found in native keychain\n', stderr: '', code: 1 });

    // With the secret set in the caller's environment, the same pull authenticates.
    const { pushed } = await pushAndInspect(registry.host, client.home, {
      ...clientEnv,
      STATE_SECRET: registry.password,
    } as Record<string, string>);
    expect(pushed.code, pushed.stderr).toBe(0);
    writeConfig('{}');
  });
});

describe('honest daemon status', () => {
  it('a stopped daemon is "not answering" in status and doctor, and daemon stop ends it', async () => {
    expect((await runHelper('list', '', env)).code).toBe(0);
    const pid = daemonPidFor(env)!;
    expect(isCredrelayDaemon(pid)).toBe(true); // never stop a process that reused a stale pid
    process.kill(pid, 'SIGSTOP');
    try {
      const status = await cli(['daemon', 'status']);
      expect(status.code).toBe(1);
      expect(status.stderr).toMatch(
        new RegExp(`^the daemon \\(pid ${pid}\\) on .* does not answer: .*run \`credrelay daemon stop\``),
      );
      const doctor = await cli(['doctor']);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/^✗ daemon +the daemon \(pid \d+\) on .* does not answer/m);
      const stop = await cli(['daemon', 'stop']);
      expect(stop.stdout).toBe(`daemon ended (pid ${pid}; it did not answer, so it was signalled)\n`);
      await waitFor('the stopped daemon to be gone', () => !isAlive(pid));
    } finally {
      if (isCredrelayDaemon(pid)) process.kill(pid, 'SIGKILL');
    }
    const after = await cli(['daemon', 'status']);
    expect(after.stderr).toMatch(/^no daemon is running/);
    expect((await runHelper('list', '', env)).code).toBe(0); // and a fresh one serves
  });

  it('credrelay daemon run exits non-zero when it refuses to start', async () => {
    expect((await runHelper('list', '', env)).code).toBe(0);
    const refused = await cli(['daemon', 'run']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not starting, another daemon already serves/);
  });

  it('a pid file naming a live process that is not a daemon is stale: a daemon starts, and doctor agrees', async () => {
    await stopCredrelayDaemon(session.runtimeDir);
    const squatter: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pidPath = resolvePaths(helperEnvironment(env)).pidPath;
      mkdirSync(dirname(pidPath), { recursive: true, mode: 0o700 }); // a runtime directory, whatever ran before
      writeFileSync(pidPath, `${squatter.pid}\n`);
      expect((await cli(['doctor'])).stdout).toMatch(/^✓ daemon +not running; the next helper call starts it/m);
      expect((await runHelper('list', '', env)).code).toBe(0);
      const pid = daemonPidFor(env)!;
      expect(pid).not.toBe(squatter.pid);
      expect(daemonProcesses(session.env.XDG_RUNTIME_DIR!)).toContain(pid);
      expect(isAlive(squatter.pid!)).toBe(true); // never signalled
    } finally {
      squatter.kill();
    }
  });
});

describe('exactly one daemon', () => {
  it('20 clients cold-starting at once start exactly one daemon, in each of 20 rounds', async () => {
    // The file store, not the keyring: what is counted here is daemons, and 20 clients falling back in-process at
    // once would otherwise also be a load test of gnome-keyring, which has dropped a connection under it.
    const fileStoreConfig = join(session.root, 'file-store-config');
    writeCredrelayConfig(fileStoreConfig, { store: 'file' });
    const burstEnv = { ...env, XDG_CONFIG_HOME: fileStoreConfig };
    for (let round = 1; round <= 20; round += 1) {
      await stopCredrelayDaemon(session.runtimeDir);
      const logBefore = logText().length;
      const results = await Promise.all(Array.from({ length: 20 }, () => runHelper('list', '', burstEnv)));
      expect(
        results.map((result) => result.code),
        JSON.stringify(results.find((result) => result.code !== 0)),
      ).toEqual(results.map(() => 0));
      const log = logText().slice(logBefore);
      expect(log.match(/"daemon started"/g), `round ${round}`).toHaveLength(1);
      expect(log, `round ${round}`).not.toMatch(
        /another daemon holds the pid file|a daemon without a pid file answers/,
      );
      expect(daemonProcesses(session.env.XDG_RUNTIME_DIR!), `round ${round}`).toHaveLength(1);
    }
  }, 240_000);

  it('a daemon slower to start than its client waits is not joined by a second one', async () => {
    await stopCredrelayDaemon(session.runtimeDir);
    const module = (path: string) => JSON.stringify(join(REPO_ROOT, 'dist', 'src', path));
    // A client that waits 1 ms gives up while the daemon it started is still starting, as on a loaded machine.
    // Right then, the start lock must still keep other clients from starting one, unless the daemon already listens
    // (and has removed it).
    const impatient = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { existsSync } = await import('node:fs');
         const { launchDaemon } = await import(${module('client/launcher.js')});
         const { resolvePaths } = await import(${module('core/paths.js')});
         const { isListening } = await import(${module('core/wire/transport.js')});
         const paths = resolvePaths(process.env);
         const ready = await launchDaemon(paths, 1);
         const guarded = existsSync(paths.launchLockPath) || (await isListening(paths.socketPath));
         process.stdout.write(ready + ' ' + guarded);`,
      ],
      { env },
    );
    expect(impatient).toMatchObject({ stdout: 'false true', code: 0 });
    const launchLockPath = resolvePaths(helperEnvironment(env)).launchLockPath;
    const logBefore = logText().length;
    const results = await Promise.all(Array.from({ length: 5 }, () => runHelper('list', '', env)));
    expect(results.map((result) => result.code)).toEqual([0, 0, 0, 0, 0]);
    // A second daemon, had one been started, exists by now; once it is gone its refusal is in the log.
    await waitFor('one daemon', () => daemonProcesses(session.env.XDG_RUNTIME_DIR!).length === 1);
    const log = logText().slice(logBefore);
    expect(log.match(/"daemon started"/g)).toHaveLength(1);
    expect(log).not.toMatch(/another daemon holds the pid file/);
    expect(existsSync(launchLockPath)).toBe(false); // the daemon removed the lock it was left
  });
});
