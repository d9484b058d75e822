import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
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

beforeAll(async () => {
  dir = makeTempDir('install');
  [keyring, registry] = await Promise.all([startKeyring(), startRegistry('installed-user', 'installed-pass-7310')]);
  toolsOnly = join(dir.path, 'node-and-npm');
  mkdirSync(toolsOnly);
  for (const tool of ['node', 'npm', 'npx']) {
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

describe('npm install -g of the packed tarball', () => {
  it('installs with no compiler on PATH and a fresh HOME, and ships no tests', async () => {
    // dist/ was built by the test command; packing must not rebuild it under the suites running beside this one.
    const packed = join(dir.path, 'packed');
    mkdirSync(packed);
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', packed], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    });
    const [tarball] = readdirSync(packed);
    const listing = execFileSync('tar', ['-tzf', join(packed, tarball!)], { encoding: 'utf8' }).split('\n');
    expect(listing).toEqual(
      expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/docs/security.md']),
    );
    expect(listing.filter((file) => /\.test\.|\/test\//.test(file))).toEqual([]);

    for (const compiler of ['cc', 'gcc', 'g++', 'c++', 'make'])
      expect(existsSync(join(toolsOnly, compiler))).toBe(false);
    const fresh = join(dir.path, 'fresh-home');
    mkdirSync(fresh);
    const installed = await run(
      join(toolsOnly, 'npm'),
      ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', join(packed, tarball!)],
      {
        env: {
          ...Object.fromEntries(Object.keys(process.env).map((key) => [key, undefined])),
          HOME: fresh,
          PATH: toolsOnly,
          npm_config_cache: npmCache,
          ...(npmCafile === 'null' || npmCafile === 'undefined' ? {} : { npm_config_cafile: npmCafile }),
        },
        timeoutMs: 170_000,
      },
    );
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stderr).not.toMatch(/install scripts|gyp|prebuild/); // nothing to build, nothing to allow
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
    expect(doctor.stdout).toMatch(/^✓ helper on PATH +.*prefix\/bin\/docker-credential-credrelay/m);
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
});
