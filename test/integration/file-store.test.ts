import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHome, makeClientHome } from '../support/client-home.js';
import { writeCredrelayConfig } from '../support/config.js';
import { daemonPid, isAlive } from '../support/daemon.js';
import { CLI, run, runHelper } from '../support/helper.js';
import { stopCredrelayDaemon } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';
import { makeTempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

/**
 * A headless Linux machine: no D-Bus session at all, so no OS keychain. With "store": "file", docker login, the
 * docker CLI's reads, skopeo and logout work through the encrypted file store, whose file shows nothing in the clear.
 */
const PASSPHRASE = 'file-store passphrase 7781';

let registry: Registry;
let root: ReturnType<typeof makeTempDir>;
let client: ClientHome;
/** The session's environment without a key: the store opens only after `credrelay unlock`. */
let session: Record<string, string | undefined>;
let keyFile: string;
let runtimeDir: string;
let storePath: string;

beforeAll(async () => {
  registry = await startRegistry('headless-user', 'headless-pass-CANARY-5521');
  root = makeTempDir('headless');
  client = makeClientHome();
  const dir = (name: string) => {
    const path = join(root.path, name);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return path;
  };
  session = {
    ...client.env,
    DBUS_SESSION_BUS_ADDRESS: undefined,
    DISPLAY: undefined,
    XDG_RUNTIME_DIR: dir('run'),
    XDG_CONFIG_HOME: dir('config'),
    XDG_DATA_HOME: dir('data'),
    XDG_STATE_HOME: dir('state'),
    XDG_CACHE_HOME: dir('cache'),
  };
  runtimeDir = join(root.path, 'run', 'credrelay');
  storePath = join(root.path, 'data', 'credrelay', 'store.json');
  writeCredrelayConfig(join(root.path, 'config'), { store: 'file' });
  keyFile = join(dir('secrets'), 'store-key');
  writeFileSync(keyFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  client.writeDockerConfig({ credsStore: 'credrelay' });
});
afterAll(async () => {
  await stopCredrelayDaemon(runtimeDir);
  await registry.stop();
  client.remove();
  root.remove();
});

const withKeyFile = () => ({ ...session, CREDRELAY_STORE_KEY_FILE: keyFile });
/** The store exists, sealed with PASSPHRASE: a test that needs one starts from it, whatever ran before. */
async function givenStore(): Promise<void> {
  const entry = JSON.stringify({ ServerURL: 'given.example', Username: 'given', Secret: 'given-secret' });
  expect((await runHelper('store', entry, { ...withKeyFile(), CREDRELAY_NO_DAEMON: '1' })).code).toBe(0);
}
const docker = (args: string[], env: Record<string, string | undefined>, input?: string) =>
  run('docker', args, { env, ...(input === undefined ? {} : { input }) });
const login = (env: Record<string, string | undefined>) =>
  docker(['login', '-u', registry.username, '--password-stdin', registry.host], env, registry.password);
const cli = (args: string[], env: Record<string, string | undefined>, input?: string) =>
  run(CLI, args, { env, ...(input === undefined ? {} : { input }) });

describe('the encrypted file store on a machine without D-Bus', () => {
  it('with the OS keychain (the default), says there is none and how to turn on the file store', async () => {
    const noKeychain = { ...session, XDG_CONFIG_HOME: join(root.path, 'no-config'), CREDRELAY_NO_DAEMON: '1' };
    const result = await runHelper('get', 'r.example', noKeychain);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^no D-Bus session bus for the OS keychain: .*turn on the encrypted file store/);
    // list names what routes serve and says the same on stderr.
    const listed = await runHelper('list', '', noKeychain);
    expect(listed).toMatchObject({ code: 0, stdout: '{}\n' });
    expect(listed.stderr).toMatch(
      /^credrelay: no D-Bus session bus for the OS keychain: .*turn on the encrypted file store/,
    );
  });

  it('locked, a docker login fails and Docker shows why', async () => {
    const result = await login(session);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /the credential store is locked \("store": "file" in \/.*\/config\/credrelay\/config\.json\): run `credrelay unlock`/,
    );
  });

  it('locked, docker logout says the credentials could not be erased, where it used to say they were removed', async () => {
    await givenStore();
    // Logged in earlier (docker keeps an empty auths entry), so docker logout asks credrelay to erase.
    const loggedIn = client.writeAuthFile('logged-in/config.json', {
      credsStore: 'credrelay',
      auths: { [registry.host]: {} },
    });
    const logout = await docker(['logout', registry.host], { ...session, DOCKER_CONFIG: dirname(loggedIn) });
    expect(logout.stderr).toMatch(/credrelay: the credential store is locked .*: run `credrelay unlock`/);
    // What givenStore left, gone again: the tests after this one list the store.
    expect((await runHelper('erase', 'given.example', { ...withKeyFile(), CREDRELAY_NO_DAEMON: '1' })).code).toBe(0);
  });

  it('locked and not created yet, doctor says the file store cannot be used, as daemon status does', async () => {
    await stopCredrelayDaemon(runtimeDir);
    expect((await login(session)).code).not.toBe(0); // starts a daemon that holds no key
    const status = JSON.parse((await cli(['daemon', 'status', '--json'], session)).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ store: 'file', storeUnlocked: false });
    const doctor = await cli(['doctor'], session);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^✗ file store +the credential store is locked/m);
    expect(doctor.stdout).not.toMatch(/✓ file store/);
  });

  it('with a key file: docker login, manifest inspect through skopeo and the docker CLI, then logout', async () => {
    const env = withKeyFile();
    expect((await login(env)).stdout).toContain('Login Succeeded');
    expect(JSON.parse((await runHelper('list', '', env)).stdout)).toEqual({ [registry.host]: registry.username });

    const { pushed, inspected } = await pushAndInspect(registry.host, client.home, env);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(inspected.code, inspected.stderr).toBe(0);
    const manifest = await docker(['manifest', 'inspect', '--insecure', `${registry.host}/demo:v1`], env);
    expect(manifest.code, manifest.stderr).toBe(0);
    expect(JSON.parse(manifest.stdout)).toMatchObject({ schemaVersion: 2 });

    // Nothing readable in the store: not the password, not the registry, not the user name.
    const text = readFileSync(storePath, 'utf8');
    for (const clear of [registry.password, registry.host, registry.username, PASSPHRASE]) {
      expect(text).not.toContain(clear);
    }
    expect(filesContaining(root.path, registry.password)).toEqual([]);
    expect(filesContaining(client.home, registry.password)).toEqual([]);

    // It survives the daemon: a new daemon reads the same file.
    const before = daemonPid(runtimeDir);
    await stopCredrelayDaemon(runtimeDir);
    const again = await runHelper('get', registry.host, env);
    expect(JSON.parse(again.stdout)).toMatchObject({ Username: registry.username, Secret: registry.password });
    expect(daemonPid(runtimeDir)).not.toBe(before);

    const logout = await docker(['logout', registry.host], env);
    expect(logout.code, logout.stderr).toBe(0);
    expect(JSON.parse((await runHelper('list', '', env)).stdout)).toEqual({});
    const refused = await docker(['manifest', 'inspect', '--insecure', `${registry.host}/demo:v1`], env);
    expect(refused.code).not.toBe(0);
  });

  it('with credrelay unlock instead: the daemon keeps the key until credrelay lock', async () => {
    await givenStore();
    await stopCredrelayDaemon(runtimeDir);
    const wrong = await cli(['unlock', '--passphrase-stdin'], session, 'not the passphrase\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/the passphrase does not open the credential store/);

    const unlocked = await cli(['unlock', '--passphrase-stdin'], session, `${PASSPHRASE}\n`);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(unlocked.stdout).toMatch(/^unlocked .*store\.json; the daemon holds its key/);
    expect((await login(session)).stdout).toContain('Login Succeeded');
    const status = JSON.parse((await cli(['daemon', 'status', '--json'], session)).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ store: 'file', storeUnlocked: true });
    // CLI commands reach the unlocked store through the daemon.
    expect((await cli(['secrets', 'set', 'HUB_TOKEN'], session, 'hub-token-value')).stdout).toBe(
      'stored secret HUB_TOKEN in the encrypted file store\n',
    );
    expect((await cli(['secrets', 'list'], session)).stdout).toBe('HUB_TOKEN\n');

    expect((await cli(['lock'], session)).stdout).toBe('locked: the daemon forgot the file store key\n');
    const locked = await runHelper('get', registry.host, session);
    expect(locked.code).toBe(1);
    expect(locked.stdout).toMatch(/^the credential store is locked \("store": "file" in .*\): run `credrelay unlock`/);
    const doctor = await cli(['doctor'], session);
    expect(doctor.stdout).toMatch(/^✗ file store +the credential store is locked/m);
  });

  it('a lock from another environment reaches the daemon that holds the key', async () => {
    await givenStore();
    await stopCredrelayDaemon(runtimeDir);
    expect((await cli(['unlock', '--passphrase-stdin'], session, `${PASSPHRASE}\n`)).code).toBe(0);
    const elsewhere = { ...session, AWS_PROFILE: 'another-environment' }; // another daemon's fingerprint
    expect((await cli(['lock'], elsewhere)).stdout).toBe('locked: the daemon forgot the file store key\n');
    const status = JSON.parse((await cli(['daemon', 'status', '--json'], session)).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ storeUnlocked: false });
  });

  it('unlock --timeout bounds how long the daemon holds the key', async () => {
    await givenStore();
    // Long enough that the status below, a CLI start on a loaded machine, is asked before it ends.
    const unlocked = await cli(['unlock', '--passphrase-stdin', '--timeout', '8s'], session, `${PASSPHRASE}\n`);
    expect(unlocked.stdout).toMatch(/the daemon holds its key until \d{4}-\d\d-\d\dT[\d:.]+Z \(or `credrelay lock`\)/);
    const held = async () =>
      (JSON.parse((await cli(['daemon', 'status', '--json'], session)).stdout) as { storeUnlocked: boolean })
        .storeUnlocked;
    expect(await held()).toBe(true);
    await waitFor('the key to be forgotten', async () => !(await held()), 25_000);
    expect((await cli(['unlock', '--passphrase-stdin', '--timeout', 'soon'], session, 'x\n')).stderr).toMatch(
      /--timeout "soon" is not a duration/,
    );
  }, 45_000);

  it('on a terminal, a new store asks for its passphrase twice, and two that differ create nothing', async () => {
    const fresh = { ...session, XDG_DATA_HOME: join(root.path, 'data-terminal') };
    const terminal = (typed: string) =>
      run('script', ['-qec', `${CLI} unlock`, '/dev/null'], { env: fresh, input: typed });
    const differ = await terminal('first-try\nsecond-try\n');
    expect(differ.stdout).toMatch(/The same passphrase again/);
    expect(differ.stdout).toMatch(/the two passphrases differ; nothing was created/);
    expect(existsSync(join(root.path, 'data-terminal', 'credrelay', 'store.json'))).toBe(false);
    const same = await terminal('typed twice\ntyped twice\n');
    expect(same.stdout).toMatch(/created the encrypted file store/);
    await cli(['lock'], fresh);
    await stopCredrelayDaemon(runtimeDir);
  });

  it('credrelay login stores there, and a $NAME reference is read from there', async () => {
    const env = withKeyFile();
    const login = await cli(
      ['login', registry.host, '-u', registry.username, '--password-stdin'],
      env,
      registry.password,
    );
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/^Login Succeeded: the credentials for .* are in the encrypted file store/);
    expect(JSON.parse((await runHelper('get', registry.host, env)).stdout)).toMatchObject({
      Secret: registry.password,
    });
    expect((await cli(['logout', registry.host], env)).code).toBe(0);

    // A route whose password is a reference: the secret lives in the file store, not in the environment.
    const referenced = join(root.path, 'config-referenced');
    writeCredrelayConfig(referenced, {
      store: 'file',
      registries: { [registry.host]: { username: registry.username, password: '$REG_PASS' } },
    });
    const routed = { ...env, XDG_CONFIG_HOME: referenced };
    expect((await cli(['secrets', 'set', 'REG_PASS'], routed, registry.password)).code).toBe(0);
    const { inspected } = await pushAndInspect(registry.host, client.home, routed, 'referenced:v1');
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(filesContaining(root.path, registry.password)).toEqual([]);
  });

  it('an unlocked daemon stays past its idle timeout while it holds the key, and goes once locked', async () => {
    const idle = join(root.path, 'config-idle');
    writeCredrelayConfig(idle, { store: 'file', daemon: { idleTimeoutSeconds: 1 } });
    const env = { ...session, XDG_CONFIG_HOME: idle };
    await stopCredrelayDaemon(runtimeDir); // the tests before left daemons of other environments
    const unlocked = await cli(['unlock', '--passphrase-stdin'], env, PASSPHRASE);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    const status = JSON.parse((await cli(['daemon', 'status', '--json'], env)).stdout) as { pid: number };
    const log = join(root.path, 'state', 'credrelay', 'daemon.log');
    const stays = () => readFileSync(log, 'utf8').split('idle timeout passed; staying').length - 1;
    await waitFor('the daemon to pass its idle timeout twice', () => stays() >= 2, 10_000);
    expect(readFileSync(log, 'utf8')).toMatch(/idle timeout passed; staying.*file store's key/);
    expect(isAlive(status.pid)).toBe(true);
    expect((await cli(['lock'], env)).code).toBe(0);
    await waitFor('the locked daemon to exit on idle', () => !isAlive(status.pid), 5000);
  });

  it('a year-long idle timeout and a 30-day unlock are kept, not overflowed into a millisecond', async () => {
    const yearLong = join(root.path, 'config-year');
    writeCredrelayConfig(yearLong, { store: 'file', daemon: { idleTimeoutSeconds: 31_536_000 } });
    const env = { ...session, XDG_CONFIG_HOME: yearLong };
    await stopCredrelayDaemon(runtimeDir);
    const unlocked = await cli(['unlock', '--passphrase-stdin', '--timeout', '30d'], env, PASSPHRASE);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    const until = Date.parse(/until (\S+Z)/.exec(unlocked.stdout)?.[1] ?? '');
    expect(until - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const status = async () =>
      JSON.parse((await cli(['daemon', 'status', '--json'], env)).stdout) as { pid: number; storeUnlocked: boolean };
    const first = await status();
    expect(first.storeUnlocked).toBe(true);
    // Node turns a delay over 2^31-1 ms into 1 ms: both timers would have fired long before these calls.
    const stored = await runHelper(
      'store',
      JSON.stringify({ ServerURL: 'year.example', Username: 'u', Secret: 'year-secret' }),
      env,
    );
    expect(stored.code, stored.stdout + stored.stderr).toBe(0);
    expect(await status()).toMatchObject({ pid: first.pid, storeUnlocked: true });
    expect(isAlive(first.pid)).toBe(true);
    expect((await cli(['lock'], env)).code).toBe(0);
    // The limit is said when the configuration loads, and by the command.
    expect((await cli(['unlock', '--passphrase-stdin', '--timeout', '99999d'], env, 'x\n')).stderr).toMatch(
      /is not a duration up to ten years/,
    );
  });

  it('a wrong, missing or loose key file is a clear error, never "not found"', async () => {
    await givenStore();
    await stopCredrelayDaemon(runtimeDir);
    const wrongKey = join(root.path, 'secrets', 'wrong-key');
    writeFileSync(wrongKey, 'another passphrase', { mode: 0o600 });
    const looseKey = join(root.path, 'secrets', 'loose-key');
    writeFileSync(looseKey, PASSPHRASE, { mode: 0o644 });
    const cases: Array<[string, RegExp]> = [
      [wrongKey, /^the passphrase does not open the credential store/],
      [join(root.path, 'secrets', 'missing'), /^CREDRELAY_STORE_KEY_FILE .* cannot be read \(ENOENT\)/],
      [looseKey, /^CREDRELAY_STORE_KEY_FILE .* can be read or written by others \(mode 644\): make it private/],
    ];
    for (const [path, message] of cases) {
      const env = { ...session, CREDRELAY_STORE_KEY_FILE: path, CREDRELAY_NO_DAEMON: '1' };
      const result = await runHelper('get', registry.host, env);
      expect(result.code, path).toBe(1);
      expect(result.stdout, path).toMatch(message);
    }
  });

  it('two processes writing at once lose nothing', async () => {
    const env = { ...withKeyFile(), CREDRELAY_NO_DAEMON: '1' };
    const hosts = Array.from({ length: 16 }, (_, index) => `parallel-${index}.example`);
    const results = await Promise.all(
      hosts.map((host) =>
        runHelper('store', JSON.stringify({ ServerURL: host, Username: `u-${host}`, Secret: `s-${host}` }), env),
      ),
    );
    expect(results.map((result) => result.code)).toEqual(hosts.map(() => 0));
    const listed = JSON.parse((await runHelper('list', '', env)).stdout) as Record<string, string>;
    for (const host of hosts) expect(listed[host]).toBe(`u-${host}`);
  });
});
