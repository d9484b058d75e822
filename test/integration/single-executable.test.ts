import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { REPO_ROOT, VERSION, VERSION_PATTERN, run } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';
import { writeOciImage } from '../support/oci-image.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

/**
 * The single executable (`npm run build:sea`) on a machine without Node.js: installed as `credrelay` and linked as
 * `docker-credential-credrelay`, run with a PATH and an environment that hold no node (only the executable, the
 * docker CLI and skopeo, which are Go programs), it answers the protocol through its own daemon for docker and
 * skopeo, the CLI, and kubelet's recorded requests.
 */
let dir: ReturnType<typeof makeTempDir>;
let keyring: Keyring;
let registry: Registry;
let moto: Moto;
let proxy: AwsProxy;
let env: Record<string, string | undefined>;
let bin: string;

const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

beforeAll(async () => {
  dir = makeTempDir('single-executable');
  // Built here from the build the test command made (the executable is not part of `npm run build`).
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-sea.mjs')], { cwd: REPO_ROOT, stdio: 'ignore' });
  [keyring, registry, moto] = await Promise.all([
    startKeyring(),
    startRegistry('sea-user', 'sea-pass-5521'),
    startMoto(),
  ]);
  proxy = await startAwsProxy(moto.endpoint);
  proxy.behaviour.expiresInSeconds = 12 * 3600;

  bin = join(dir.path, 'bin');
  mkdirSync(bin);
  copyFileSync(join(REPO_ROOT, 'dist', 'sea', 'credrelay'), join(bin, 'credrelay'));
  symlinkSync('credrelay', join(bin, 'docker-credential-credrelay'));
  const tools = join(dir.path, 'tools');
  mkdirSync(tools);
  for (const tool of ['docker', 'skopeo'])
    symlinkSync(
      realpathSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()),
      join(tools, tool),
    );
  const home = join(dir.path, 'home');
  mkdirSync(home);
  env = {
    // Nothing of this process's environment: no PATH with node on it, no NODE_OPTIONS.
    ...Object.fromEntries(Object.keys(process.env).map((key) => [key, undefined])),
    ...keyring.env,
    HOME: home,
    PATH: `${bin}${delimiter}${tools}`,
    DOCKER_CONFIG: join(home, '.docker'),
    AWS_ACCESS_KEY_ID: 'AKIDSINGLEEXEC000001',
    AWS_SECRET_ACCESS_KEY: 'single-executable-secret',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    // The suites beside this one run daemons as the same user: the bound of their size (vitest.config.ts).
    CREDRELAY_MAX_DAEMONS: process.env.CREDRELAY_MAX_DAEMONS,
  };
}, 180_000);
afterAll(async () => {
  // This suite's daemons only: `daemon stop --all` would end the daemons of the suites running beside it.
  if (keyring !== undefined) await stopCredrelayDaemon(keyring.runtimeDir);
  await keyring?.stop();
  await registry?.stop();
  await proxy?.stop();
  await moto?.stop();
  dir?.remove();
});

describe('the single executable, with no node on the machine', () => {
  it('is one file of Node and credrelay, and no node is reachable from its PATH', () => {
    const size = statSync(join(bin, 'credrelay')).size / 1e6;
    console.info(`single executable: ${size.toFixed(1)} MB`);
    expect(size).toBeLessThan(130); // Node's own binary is most of it
    for (const directory of env.PATH!.split(delimiter)) expect(existsSync(join(directory, 'node'))).toBe(false);
  });

  it('answers the CLI and the protocol by the name it runs under', async () => {
    expect((await run(join(bin, 'credrelay'), ['--version'], { env })).stdout).toMatch(
      new RegExp(`^credrelay/${VERSION_PATTERN} linux-x64 node-v`),
    );
    const helper = await run('docker-credential-credrelay', ['version'], { env });
    expect(helper.stdout).toBe(`docker-credential-credrelay (credrelay) ${VERSION}\n`);
    expect((await run(join(bin, 'credrelay'), ['configure-docker'], { env })).code).toBe(0);
  });

  it('docker login, docker and skopeo pull and push through it, with its own daemon and the OS keychain', async () => {
    const docker = join(dir.path, 'tools', 'docker');
    const login = await run(docker, ['login', '-u', registry.username, '--password-stdin', registry.host], {
      env,
      input: registry.password,
    });
    expect(login.stdout, login.stderr).toContain('Login Succeeded');
    const authfile = join(dir.path, 'auth.json');
    writeFileSync(authfile, JSON.stringify({ credHelpers: { [registry.host]: 'credrelay' } }));
    const image = writeOciImage(join(dir.path, 'image'));
    const pushed = await run(
      'skopeo',
      ['copy', '--authfile', authfile, '--dest-tls-verify=false', image, `docker://${registry.host}/sea/app:v1`],
      { env, timeoutMs: 60_000 },
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    const inspected = await run(docker, ['manifest', 'inspect', '--insecure', `${registry.host}/sea/app:v1`], { env });
    expect(inspected.code, inspected.stderr).toBe(0);
    // The daemon that answered is the executable itself, running the daemon from its unpacked files.
    const status = JSON.parse((await run(join(bin, 'credrelay'), ['daemon', 'status', '--json'], { env })).stdout) as {
      pid: number;
    };
    const command = readFileSync(`/proc/${status.pid}/cmdline`, 'utf8').split('\0');
    expect(realpathSync(`/proc/${status.pid}/exe`)).toBe(realpathSync(join(bin, 'credrelay')));
    expect(command.at(-2)).toMatch(/\/credrelay\/executable\/[^/]+\/dist\/src\/daemon\/main\.js$/);
  }, 90_000);

  it('doctor knows Docker runs the executable itself', async () => {
    const doctor = await run(join(bin, 'credrelay'), ['doctor'], { env });
    expect(doctor.stdout).toMatch(
      /^✓ helper on PATH +.*\/bin\/docker-credential-credrelay \(Docker runs this single executable; credrelay /m,
    );
  });

  it('unpacks once however many start at once on a fresh machine, and never runs from a directory others can write', async () => {
    const fresh = { ...env, XDG_CACHE_HOME: join(dir.path, 'fresh-cache'), CREDRELAY_NO_DAEMON: '1' };
    const starts = await Promise.all(
      Array.from({ length: 8 }, () => run('docker-credential-credrelay', ['version'], { env: fresh })),
    );
    for (const started of starts) expect(started).toMatchObject({ code: 0, stderr: '' });
    const unpackedInto = readdirSync(join(dir.path, 'fresh-cache', 'credrelay', 'executable'));
    expect(unpackedInto).toHaveLength(1); // one copy, and no half-written staging directory left behind
    expect(statSync(join(dir.path, 'fresh-cache', 'credrelay', 'executable', unpackedInto[0]!)).mode & 0o777).toBe(
      0o700,
    );

    // A cache under a directory anyone may write (not sticky): another user could swap the code that would run.
    const open = join(dir.path, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const refused = await run('docker-credential-credrelay', ['version'], {
      env: { ...fresh, XDG_CACHE_HOME: join(open, 'cache') },
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /^credrelay: will not run credrelay from .*: .*open can be written by others \(mode 0777\)/,
    );
  });

  it("never runs another user's code from a cache directory they made, however they flip it", async () => {
    // The victim's cache is in a sticky directory anyone may write (XDG_CACHE_HOME=/tmp, HOME=/tmp in a container);
    // another user (uid 65534) made credrelay/executable there first, and flips the version directory the executable
    // unpacks to between absent and a copy of their own.
    const shared = mkdtempSync('/tmp/credrelay-sea-shared-');
    chmodSync(shared, 0o1777);
    const version = readdirSync(join(dir.path, 'fresh-cache', 'credrelay', 'executable'))[0]!;
    const marker = join(shared, 'their-code-ran');
    const attack = [
      'set -e',
      `cd ${shared}`,
      'mkdir -p credrelay/executable/evil/bin',
      'chmod -R 777 credrelay',
      'cd credrelay/executable',
      `printf '{"name":"credrelay","version":"0.0.0"}' > evil/package.json`,
      `printf "require('fs').writeFileSync('${marker}', 'ran')" > evil/bin/docker-credential-credrelay-node`,
      'cp evil/bin/docker-credential-credrelay-node evil/bin/credrelay',
      'touch evil/.complete',
      'end=$(($(date +%s) + 30))',
      `while [ "$(date +%s)" -lt "$end" ] && [ ! -e ${shared}/stop ]; do mv evil ${version} 2>/dev/null || true; mv ${version} evil 2>/dev/null || true; done`,
    ].join('\n');
    const attacker = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', attack], {
      stdio: 'ignore',
    });
    try {
      await waitFor(
        'the other user to make the cache directory',
        () =>
          existsSync(join(shared, 'credrelay', 'executable', 'evil', '.complete')) ||
          existsSync(join(shared, 'credrelay', 'executable', version, '.complete')),
      );
      for (let start = 0; start < 40; start += 1) {
        const result = await run('docker-credential-credrelay', ['version'], {
          env: { ...env, XDG_CACHE_HOME: shared, CREDRELAY_NO_DAEMON: '1' },
        });
        expect(result.code).toBe(1);
        expect(result.stdout).toMatch(
          /^credrelay: will not run credrelay from .*: .*credrelay\S* belongs to uid 65534/,
        );
      }
      expect(existsSync(marker)).toBe(false);
    } finally {
      writeFileSync(join(shared, 'stop'), '');
      await new Promise((resolve) => attacker.once('exit', resolve));
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('answers under every name the docs give it: the kubelet plugins, the helper, the CLI', async () => {
    const fixture = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'kubelet', 'ecr-v1.json'), 'utf8');
    for (const name of ['credrelay-ecr', 'credrelay-gar', 'credrelay-acr']) {
      copyFileSync(join(bin, 'credrelay'), join(bin, name));
      chmodSync(join(bin, name), 0o755);
      const answered = await run(join(bin, name), ['kubelet'], { env, input: fixture });
      expect(answered.stderr, name).toBe('');
      expect(JSON.parse(answered.stdout), name).toMatchObject({ kind: 'CredentialProviderResponse' });
    }
    const usage = await run('docker-credential-credrelay', [], { env });
    expect(usage).toMatchObject({
      code: 1,
      stdout: 'Usage: docker-credential-credrelay <store|get|erase|list|version>\n',
    });
    const version = await run('credrelay', ['--version'], { env });
    expect(version.stdout).toMatch(new RegExp(`^credrelay/${VERSION_PATTERN} `));
  });

  it("answers kubelet's recorded requests, with a cacheDuration from the token's lifetime", async () => {
    const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'kubelet', name), 'utf8');
    const ecr = await run('docker-credential-credrelay', ['kubelet'], { env, input: fixture('ecr-v1.json') });
    expect(ecr.stderr).toBe('');
    const response = JSON.parse(ecr.stdout) as { cacheDuration: string; auth: Record<string, { username: string }> };
    expect(response.auth[ECR_HOST]?.username).toBe('AWS');
    expect(response.cacheDuration).toMatch(/^(5h\d{1,2}m\d{1,2}s|6h0m0s)$/);
    const hub = await run('docker-credential-credrelay', ['kubelet'], { env, input: fixture('docker-hub.json') });
    expect(JSON.parse(hub.stdout)).toMatchObject({ kind: 'CredentialProviderResponse', auth: {} });
  });
});
