import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, run } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/temp.js';

/**
 * Installing as a user does: the packed tarball, `npm install -g`, a fresh HOME (no npm settings of this machine,
 * which could hide a build step), and a PATH that holds only node and npm, so no C or C++ compiler can be found.
 * The keychain module must come prebuilt from the npm registry. The machine's npm cache is lent to the install so
 * that it does not fetch every package again (it holds packages, not settings), and so is its CA file, which a
 * network's TLS proxy may need; no other npm setting (the machine's `nodedir`, say) reaches the install.
 */
let dir: ReturnType<typeof makeTempDir>;
let prefix: string;
let toolsOnly: string;
let keyring: Keyring;
let registry: Registry;

const npmSetting = (key: string) => execFileSync('npm', ['config', 'get', key], { encoding: 'utf8' }).trim();
const npmCache = npmSetting('cache');
/** The machine's trust store for the npm registry (a network's TLS proxy), if it has one: a network setting, not a build one. */
const npmCafile = npmSetting('cafile');
/** The registry npm reaches here, and its CA (npm's own `ca`): network settings the install needs, not build ones. */
const npmRegistry = npmSetting('registry');
const npmCa = npmSetting('ca');
const given = (value: string) => value !== 'null' && value !== 'undefined' && value !== '';

beforeAll(async () => {
  dir = makeTempDir('install');
  [keyring, registry] = await Promise.all([startKeyring(), startRegistry('installed-user', 'installed-pass-7310')]);
  toolsOnly = join(dir.path, 'node-and-npm');
  mkdirSync(toolsOnly);
  // sh too: npm runs package scripts with it, and every machine has one. No compiler.
  for (const tool of ['node', 'npm', 'npx', 'sh']) {
    symlinkSync(
      realpathSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()),
      join(toolsOnly, tool),
    );
  }
  prefix = join(dir.path, 'prefix');
}, 180_000);
afterAll(async () => {
  await keyring.stop();
  await registry.stop();
  dir.remove();
});

/** The packed tarball: dist/ was built by the test command, and packing must not rebuild it under other suites. */
let tarball: string;

/** `npm install -g` of the tarball into `into`, with a fresh HOME and `path` as the whole PATH. */
async function installGlobally(into: string, path: string) {
  const fresh = join(dir.path, `home-${basename(into)}`);
  mkdirSync(fresh);
  return run(
    join(toolsOnly, 'npm'),
    [
      'install',
      '-g',
      '--prefix',
      into,
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--foreground-scripts',
      // A registry that cannot be reached (a CA the environment lost) fails in seconds, not after minutes of retries.
      '--fetch-timeout=30000',
      '--fetch-retries=1',
      tarball,
    ],
    {
      env: {
        ...Object.fromEntries(Object.keys(process.env).map((key) => [key, undefined])),
        HOME: fresh,
        PATH: path,
        npm_config_cache: npmCache,
        ...(given(npmCafile) ? { npm_config_cafile: npmCafile } : {}),
        ...(given(npmCa) ? { npm_config_ca: npmCa } : {}),
        ...(given(npmRegistry) ? { npm_config_registry: npmRegistry } : {}),
        ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
      },
      timeoutMs: 170_000,
    },
  );
}

const isElf = (path: string): boolean =>
  readFileSync(path)
    .subarray(0, 4)
    .equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));

describe('npm install -g of the packed tarball', () => {
  it('installs with no compiler on PATH and a fresh HOME, keeps the Node client, and ships no tests', async () => {
    const packed = join(dir.path, 'packed');
    mkdirSync(packed);
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', packed], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    });
    tarball = join(packed, readdirSync(packed)[0]!);
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(listing).toEqual(
      expect.arrayContaining([
        'package/LICENSE',
        'package/README.md',
        'package/docs/security.md',
        'package/src/native/credential-client.c',
        'package/scripts/build-native.mjs',
        'package/bin/docker-credential-credrelay-node',
      ]),
    );
    expect(listing.filter((file) => /\.test\.|\/test\//.test(file))).toEqual([]);

    for (const compiler of ['cc', 'gcc', 'clang', 'g++', 'c++', 'make'])
      expect(existsSync(join(toolsOnly, compiler))).toBe(false);
    const installed = await installGlobally(prefix, toolsOnly);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain(
      'credrelay: no C compiler found (cc, gcc or clang); docker-credential-credrelay stays the Node client',
    );
    expect(installed.stderr).not.toMatch(/gyp|prebuild/); // the keychain module came prebuilt
    const helper = join(prefix, 'lib', 'node_modules', 'credrelay', 'bin', 'docker-credential-credrelay');
    expect(isElf(helper)).toBe(false);
    expect(existsSync(join(prefix, 'bin', 'docker-credential-credrelay'))).toBe(true);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'credrelay', 'node_modules', '@napi-rs'))).toBe(true);
  }, 180_000);

  it('then doctor passes on a machine with a Secret Service, and docker login, manifest inspect and logout work', async () => {
    const dockerConfig = join(dir.path, 'docker');
    const env = {
      ...keyring.env,
      DOCKER_CONFIG: dockerConfig,
      PATH: `${join(prefix, 'bin')}:${toolsOnly}`,
    };
    const installedCli = join(prefix, 'bin', 'credrelay');
    expect((await run(installedCli, ['configure-docker'], { env })).code).toBe(0);
    const doctor = await run(installedCli, ['doctor'], { env });
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toMatch(
      /^✓ helper on PATH +.*prefix\/bin\/docker-credential-credrelay \(Docker runs the Node client \(no native client was built: no C compiler found \(cc, gcc or clang\): install a C compiler/m,
    );
    expect(doctor.stdout).toMatch(/^✓ keychain +reachable: the Secret Service/m);

    const dockerPath = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
    const login = await run(dockerPath, ['login', '-u', registry.username, '--password-stdin', registry.host], {
      env,
      input: registry.password,
    });
    expect(login.stdout, login.stderr).toContain('Login Succeeded');
    const inspect = await run(dockerPath, ['manifest', 'inspect', '--insecure', `${registry.host}/nothing:here`], {
      env,
    });
    // No image was pushed, so the registry answers "unknown manifest" to an authenticated read (not "unauthorized").
    expect(inspect.stderr).not.toMatch(/unauthorized|no basic auth/i);
    const logout = await run(dockerPath, ['logout', registry.host], { env });
    expect(logout.code, logout.stderr).toBe(0);
    const refused = await run(dockerPath, ['manifest', 'inspect', '--insecure', `${registry.host}/nothing:here`], {
      env,
    });
    expect(refused.stderr).toMatch(/unauthorized|no basic auth|authentication required/i);
  }, 60_000);

  it("with a C compiler: the native client takes the launcher's place, answers from the daemon, and doctor says so", async () => {
    const withCompiler = join(dir.path, 'prefix-native');
    const installed = await installGlobally(withCompiler, `${toolsOnly}:${process.env.PATH}`);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).not.toMatch(/credrelay: /); // built: nothing to say
    const packageRoot = join(withCompiler, 'lib', 'node_modules', 'credrelay');
    expect(isElf(join(packageRoot, 'bin', 'docker-credential-credrelay'))).toBe(true);
    const env = {
      ...keyring.env,
      PATH: `${join(withCompiler, 'bin')}:${toolsOnly}`,
      DOCKER_CONFIG: join(dir.path, 'docker-native'),
    };
    const helper = join(withCompiler, 'bin', 'docker-credential-credrelay');
    const stored = JSON.stringify({
      ServerURL: 'native-install.example',
      Username: 'nat',
      Secret: 'native-install-secret',
    });
    expect((await run(helper, ['store'], { env, input: stored })).code).toBe(0); // started a daemon
    const got = await run(helper, ['get'], { env, input: 'native-install.example' });
    expect(JSON.parse(got.stdout)).toMatchObject({ Username: 'nat', Secret: 'native-install-secret' });
    expect((await run(helper, ['version'], { env })).stdout).toBe('docker-credential-credrelay (credrelay) 0.1.0\n');
    const doctor = await run(join(withCompiler, 'bin', 'credrelay'), ['doctor'], { env });
    expect(doctor.stdout).toMatch(
      /^✓ helper on PATH +.*\(Docker runs the native client, which answers from the daemon/m,
    );
  }, 180_000);
});
