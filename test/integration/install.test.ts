import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  symlinkSync,
} from 'node:fs';
import { basename, join, relative } from 'node:path';
import { nativeClientDirectory } from '../../src/core/paths.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, VERSION, run } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/temp.js';

/**
 * Installing as a user does: the packed tarball, `npm install -g`, a fresh HOME (no npm settings of this machine,
 * which could hide a build step), and a PATH that holds only node and npm, so no C or C++ compiler can be found.
 * The keychain module must come prebuilt from the npm registry, the native client prebuilt in the package. The machine's npm cache is lent to the install so
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

// This suite runs the native client, which vitest.config.ts turns off (CREDRELAY_NATIVE=0) for the others.
delete process.env.CREDRELAY_NATIVE;

beforeAll(async () => {
  dir = makeTempDir('install');
  [keyring, registry] = await Promise.all([startKeyring(), startRegistry('installed-user', 'installed-pass-7310')]);
  toolsOnly = join(dir.path, 'node-and-npm');
  mkdirSync(toolsOnly);
  // sh too: npm runs package scripts with it, and every machine has one; and readlink and uname, which the launcher
  // may ask (coreutils or busybox, on every machine). No compiler.
  for (const tool of ['node', 'npm', 'npx', 'sh', 'readlink', 'uname']) {
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

/** Bytes of every file under `path` (what `du --apparent-size` counts), links not followed. */
function bytesUnder(path: string): number {
  const stats = lstatSync(path);
  if (!stats.isDirectory()) return stats.size;
  return readdirSync(path).reduce((total, name) => total + bytesUnder(join(path, name)), 0);
}

/** The packages an install holds: every directory under a node_modules that has a package.json, nested ones too. */
function packagesUnder(nodeModules: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        for (const scoped of readdirSync(join(dir, name))) visitPackage(join(dir, name, scoped), `${name}/${scoped}`);
      } else visitPackage(join(dir, name), name);
    }
  };
  const visitPackage = (path: string, name: string) => {
    if (!existsSync(join(path, 'package.json'))) return;
    found.push(name);
    visit(join(path, 'node_modules'));
  };
  visit(nodeModules);
  return found;
}

/** The native client's directory in a package, relative to its root. */
const NATIVE_DIR = relative('/', nativeClientDirectory('/'));

describe('npm install -g of the packed tarball', () => {
  it('installs quietly with no compiler and a fresh HOME: no install script, two packages beside credrelay, <= 25 MB', async () => {
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
        'package/dist/THIRD-PARTY-NOTICES.md',
        'package/dist/node_modules/@aws-sdk/client-ecr/index.js',
        'package/dist/node_modules/google-auth-library/index.js',
        'package/dist/node_modules/@azure/identity/index.js',
        `package/${NATIVE_DIR}/docker-credential-credrelay`,
        'package/bin/docker-credential-credrelay-node',
      ]),
    );
    expect(listing.filter((file) => /\.test\.|\/test\//.test(file))).toEqual([]);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    expect(Object.keys(manifest.dependencies)).toEqual(['@napi-rs/keyring']);
    expect(Object.keys(manifest.scripts).filter((name) => /install/.test(name))).toEqual([]);

    for (const compiler of ['cc', 'gcc', 'clang', 'g++', 'c++', 'make'])
      expect(existsSync(join(toolsOnly, compiler))).toBe(false);
    const started = Date.now();
    const installed = await installGlobally(prefix, toolsOnly);
    const seconds = (Date.now() - started) / 1000;
    expect(installed.code, installed.stderr).toBe(0);
    // Nothing for npm 11's allowScripts to warn about, and nothing built.
    expect(installed.stdout + installed.stderr).not.toMatch(/allowScripts|install-scripts|gyp|prebuild|credrelay:/);
    const root = join(prefix, 'lib', 'node_modules', 'credrelay');
    const packages = ['credrelay', ...packagesUnder(join(root, 'node_modules'))];
    const megabytes = bytesUnder(root) / 1e6;
    // The figures the issue measures, for the record of this run.
    console.info(
      `install: ${megabytes.toFixed(1)} MB, ${packages.length} packages (${packages.join(', ')}), ${seconds.toFixed(1)} s`,
    );
    expect(packages.length).toBeLessThanOrEqual(5);
    expect(megabytes).toBeLessThanOrEqual(25);
    expect(packages).toContain('@napi-rs/keyring');
    expect(isElf(join(root, 'bin', 'docker-credential-credrelay'))).toBe(false); // the launcher
    expect(isElf(join(root, NATIVE_DIR, 'docker-credential-credrelay'))).toBe(true); // prebuilt, shipped
    expect(existsSync(join(prefix, 'bin', 'docker-credential-credrelay'))).toBe(true);
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
      /^✓ helper on PATH +.*prefix\/bin\/docker-credential-credrelay \(Docker runs the native client, which answers from the daemon/m,
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

  it("the launcher runs the native client through npm's link, a link of the user's own, and the Node client where none fits", async () => {
    const root = join(prefix, 'lib', 'node_modules', 'credrelay');
    const env = { ...keyring.env, PATH: `${join(prefix, 'bin')}:${toolsOnly}` };
    const stored = JSON.stringify({
      ServerURL: 'native-install.example',
      Username: 'nat',
      Secret: 'native-install-secret',
    });
    const viaNpmLink = join(prefix, 'bin', 'docker-credential-credrelay');
    const store = await run(viaNpmLink, ['store'], { env, input: stored }); // starts a daemon
    expect(store.code, store.stdout + store.stderr).toBe(0);
    // A user's own link, somewhere npm does not know: found through the link.
    const own = join(dir.path, 'own-bin');
    mkdirSync(own);
    symlinkSync(viaNpmLink, join(own, 'docker-credential-credrelay'));
    for (const helper of [viaNpmLink, join(own, 'docker-credential-credrelay')]) {
      const got = await run(helper, ['get'], { env, input: 'native-install.example' });
      expect(got.code, `${helper}: ${got.stdout}${got.stderr}`).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ Username: 'nat', Secret: 'native-install-secret' });
      expect((await run(helper, ['version'], { env })).stdout).toBe(
        `docker-credential-credrelay (credrelay) ${VERSION}\n`,
      );
    }
    // The native client answers `get` from the daemon itself: with node gone from PATH (the same PATH, so the same
    // daemon), only it can.
    const withoutNode = async <T>(use: () => Promise<T>): Promise<T> => {
      renameSync(join(toolsOnly, 'node'), join(toolsOnly, 'node.away'));
      try {
        return await use();
      } finally {
        renameSync(join(toolsOnly, 'node.away'), join(toolsOnly, 'node'));
      }
    };
    const native = await withoutNode(() => run(viaNpmLink, ['get'], { env, input: 'native-install.example' }));
    expect(JSON.parse(native.stdout)).toMatchObject({ Secret: 'native-install-secret' });

    // A machine the package has no native client for (here: the client taken away): the Node client answers.
    renameSync(join(root, NATIVE_DIR), join(root, `${NATIVE_DIR}.away`));
    try {
      const handed = await withoutNode(() => run(viaNpmLink, ['get'], { env, input: 'native-install.example' }));
      expect(handed.code).not.toBe(0); // the launcher needed node
      const got = await run(viaNpmLink, ['get'], { env, input: 'native-install.example' });
      expect(JSON.parse(got.stdout)).toMatchObject({ Secret: 'native-install-secret' });
      const doctor = await run(join(prefix, 'bin', 'credrelay'), ['doctor'], { env });
      expect(doctor.stdout).toMatch(
        /^✓ helper on PATH +.*\(Docker runs the Node client \(no native client for linux-/m,
      );
    } finally {
      renameSync(join(root, `${NATIVE_DIR}.away`), join(root, NATIVE_DIR));
      await stopCredrelayDaemon(keyring.runtimeDir); // not `stop --all`: other suites' daemons run beside this one
    }
  }, 120_000);
});
