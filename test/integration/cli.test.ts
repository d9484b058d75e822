import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { writeCredrelayConfig } from '../support/config.js';
import { CLI, REPO_ROOT, pathWithOnlyNode, run, runHelper, VERSION_PATTERN } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { type Moto, startMoto } from '../support/moto.js';
import { type Registry, startRegistry } from '../support/registry.js';

/** The management commands, run as a user runs them, against a real keyring, registry and AWS emulator. */
let session: Keyring;
let registry: Registry;
let moto: Moto;
let proxy: AwsProxy;
let env: Record<string, string>;
let dockerConfig: string;

/** oclif wraps warnings to the terminal width behind "›" markers; join them back into lines. */
const unwrap = (text: string) => text.replace(/\s*\n\s*›\s+/g, ' ').replace(/^\s*›\s+/gm, '');

const cli = (args: string[], options: { input?: string; env?: Record<string, string | undefined> } = {}) =>
  run(CLI, args, { env: { ...env, ...options.env }, ...(options.input === undefined ? {} : { input: options.input }) });

beforeAll(async () => {
  [session, registry, moto] = await Promise.all([
    startKeyring(),
    startRegistry('octo', 'cli-registry-pass-9081'),
    startMoto(),
  ]);
  proxy = await startAwsProxy(moto.endpoint);
  dockerConfig = join(session.home, '.docker');
  env = {
    ...session.env,
    DOCKER_CONFIG: dockerConfig,
    AWS_ACCESS_KEY_ID: 'AKIDCLITEST000000001',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_ENDPOINT_URL_STS: proxy.endpoint,
  };
});
afterAll(async () => {
  await session.stop();
  await Promise.all([registry.stop(), proxy.stop(), moto.stop()]);
});

describe('credrelay configure-docker', () => {
  const configFile = (dir = dockerConfig) => join(dir, 'config.json');
  const realistic = {
    auths: { 'ghcr.io': { auth: 'b2N0bzpwYXQ=' }, 'registry.example': {} },
    credsStore: 'desktop',
    currentContext: 'colima',
    plugins: { debug: { hooks: 'exec' } },
    proxies: { default: { httpProxy: 'http://proxy.corp.example:3128' } },
  };

  /**
   * A Docker config directory of a test's own, holding `realistic` (mode 0640), after the given configure-docker
   * runs: each test starts from the state it describes, whatever ran before it.
   */
  async function dockerConfigAfter(name: string, runs: string[][]): Promise<string> {
    const dir = join(session.root, `docker-${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(configFile(dir), JSON.stringify(realistic, null, 2));
    chmodSync(configFile(dir), 0o640);
    for (const args of runs) expect((await cli(args, { env: { DOCKER_CONFIG: dir } })).code).toBe(0);
    return dir;
  }

  it('--dry-run prints the change and writes nothing', async () => {
    mkdirSync(dockerConfig, { recursive: true });
    writeFileSync(configFile(), JSON.stringify(realistic, null, 2));
    chmodSync(configFile(), 0o640);
    const before = readFileSync(configFile(), 'utf8');
    const result = await cli(['configure-docker', '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^would set credsStore to "credrelay" \(was "desktop"\)\ndry run: .* was not written/,
    );
    expect(readFileSync(configFile(), 'utf8')).toBe(before);
    expect(existsSync(`${configFile()}.bak`)).toBe(false);
  });

  it('sets credsStore, keeps every other key in its order, keeps the mode, backs up, and warns about the replaced helper', async () => {
    const dir = await dockerConfigAfter('sets', []);
    const before = readFileSync(configFile(dir), 'utf8');
    const result = await cli(['configure-docker'], { env: { DOCKER_CONFIG: dir } });
    expect(result.code).toBe(0);
    expect(unwrap(result.stderr)).toMatch(
      /replacing credsStore "desktop": credentials stored by docker-credential-desktop stay there/,
    );
    const written = JSON.parse(readFileSync(configFile(dir), 'utf8')) as Record<string, unknown>;
    expect(written).toEqual({ ...realistic, credsStore: 'credrelay' });
    expect(Object.keys(written)).toEqual(Object.keys(realistic));
    expect(statSync(configFile(dir)).mode & 0o777).toBe(0o640);
    expect(readFileSync(`${configFile(dir)}.bak`, 'utf8')).toBe(before);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('is idempotent: a second run changes nothing', async () => {
    const dir = await dockerConfigAfter('idempotent', [['configure-docker']]);
    const before = readFileSync(configFile(dir), 'utf8');
    const mtime = statSync(configFile(dir)).mtimeMs;
    const result = await cli(['configure-docker'], { env: { DOCKER_CONFIG: dir } });
    expect(result.stdout).toMatch(/already uses credrelay; nothing changed/);
    expect(readFileSync(configFile(dir), 'utf8')).toBe(before);
    expect(statSync(configFile(dir)).mtimeMs).toBe(mtime);
  });

  const registriesRun = () => [
    'configure-docker',
    '--registries',
    `https://${registry.host}/,docker.io,123456789012.dkr.ecr.us-east-1.amazonaws.com`,
  ];

  it('--registries adds credHelpers entries (Docker Hub under both names), idempotently', async () => {
    const dir = await dockerConfigAfter('registries', [['configure-docker']]);
    const result = await cli(registriesRun(), { env: { DOCKER_CONFIG: dir } });
    expect(result.code).toBe(0);
    const written = JSON.parse(readFileSync(configFile(dir), 'utf8')) as {
      credHelpers: Record<string, string>;
      credsStore: string;
    };
    expect(written.credHelpers).toEqual({
      [registry.host]: 'credrelay',
      'https://index.docker.io/v1/': 'credrelay',
      'docker.io': 'credrelay',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com': 'credrelay',
    });
    expect(written.credsStore).toBe('credrelay');
    expect(
      (await cli(['configure-docker', '--registries', registry.host], { env: { DOCKER_CONFIG: dir } })).stdout,
    ).toMatch(/nothing changed/);
  });

  it('--undo --dry-run says what it would do, in words that read', async () => {
    const dir = await dockerConfigAfter('undo-dry', [['configure-docker'], registriesRun()]);
    const result = await cli(['configure-docker', '--undo', '--dry-run'], { env: { DOCKER_CONFIG: dir } });
    expect(result.stdout).toMatch(/^would remove credHelpers\["docker\.io"\]$/m);
    expect(result.stdout).toMatch(/^would set credsStore back to "desktop"$/m);
    expect(result.stdout).not.toMatch(/would removed/);
  });

  it('--undo puts back what credrelay replaced: credsStore "desktop", and no credHelpers it added', async () => {
    const dir = await dockerConfigAfter('undo', [['configure-docker'], registriesRun()]);
    const result = await cli(['configure-docker', '--undo'], { env: { DOCKER_CONFIG: dir } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/set credsStore back to "desktop"/);
    expect(result.stdout).toMatch(/removed credHelpers\["docker\.io"\]/);
    const written = JSON.parse(readFileSync(configFile(dir), 'utf8')) as Record<string, unknown>;
    expect(written).toEqual(realistic);
    expect(Object.keys(written)).toEqual(Object.keys(realistic));
    expect((await cli(['configure-docker', '--undo'], { env: { DOCKER_CONFIG: dir } })).stdout).toMatch(
      /has no credrelay entries; nothing changed/,
    );
  });

  it('--undo restores a credHelpers entry credrelay replaced, and removes credrelay entries it knows nothing of', async () => {
    const undoHome = join(session.root, 'undo-docker');
    mkdirSync(undoHome, { recursive: true });
    const file = join(undoHome, 'config.json');
    writeFileSync(file, JSON.stringify({ credHelpers: { 'gcr.io': 'gcloud' } }));
    const undoEnv = { DOCKER_CONFIG: undoHome };
    expect((await cli(['configure-docker', '--registries', 'gcr.io,ghcr.io'], { env: undoEnv })).code).toBe(0);
    expect((await cli(['configure-docker', '--undo'], { env: undoEnv })).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ credHelpers: { 'gcr.io': 'gcloud' } });
    // Set by hand, never recorded: removed.
    writeFileSync(file, JSON.stringify({ credsStore: 'credrelay', auths: {} }));
    expect((await cli(['configure-docker', '--undo'], { env: undoEnv })).stdout).toMatch(
      /removed credsStore "credrelay"/,
    );
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: {} });
  });

  it('creates a missing config.json with mode 0600, and refuses to overwrite one that is not JSON', async () => {
    const fresh = join(session.root, 'fresh-docker');
    expect((await cli(['configure-docker'], { env: { DOCKER_CONFIG: fresh } })).code).toBe(0);
    expect(JSON.parse(readFileSync(join(fresh, 'config.json'), 'utf8'))).toEqual({ credsStore: 'credrelay' });
    expect(statSync(join(fresh, 'config.json')).mode & 0o777).toBe(0o600);
    writeFileSync(join(fresh, 'config.json'), '{ broken');
    const result = await cli(['configure-docker'], { env: { DOCKER_CONFIG: fresh } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not valid JSON; fix it first/);
    expect(readFileSync(join(fresh, 'config.json'), 'utf8')).toBe('{ broken');
  });

  it('warns when docker-credential-credrelay is not on PATH', async () => {
    const result = await cli(['configure-docker', '--dry-run'], {
      env: { PATH: pathWithOnlyNode(join(session.root, 'node-only')), DOCKER_CONFIG: join(session.root, 'nowhere') },
    });
    expect(unwrap(result.stderr)).toMatch(/docker-credential-credrelay is not on PATH, so Docker would fail to run it/);
  });
});

describe('credrelay login and logout', () => {
  const listed = async () => JSON.parse((await runHelper('list', '', env)).stdout) as Record<string, string>;

  it('refuses a wrong password after asking the registry, and stores nothing', async () => {
    const result = await cli(['login', registry.host, '-u', registry.username, '--password-stdin'], {
      input: 'wrong-password',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^Error: ${registry.host} rejected the credentials of octo \\(HTTP 401\\); nothing was stored`),
    );
    expect(await listed()).toEqual({});
  });

  it('checks the right password against the registry and stores it in the keychain', async () => {
    const result = await cli(['login', `http://${registry.host}`, '-u', registry.username, '--password-stdin'], {
      input: `${registry.password}\n`,
    });
    expect(result).toMatchObject({
      code: 0,
      stdout: `Login Succeeded: the credentials for ${registry.host} are in the OS keychain\n`,
    });
    expect(await listed()).toEqual({ [`http://${registry.host}`]: registry.username });
    expect(JSON.parse((await runHelper('get', registry.host, env)).stdout)).toMatchObject({
      Username: 'octo',
      Secret: registry.password,
    });
  });

  it('without a terminal, asks for --password-stdin instead of prompting', async () => {
    const result = await cli(['login', registry.host, '-u', 'octo']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot prompt for a password without a terminal: pipe it in with --password-stdin/);
  });

  it('--no-verify stores without asking; an unreachable registry is otherwise an error', async () => {
    const refused = await cli(['login', '127.0.0.1:1', '-u', 'u', '--password-stdin'], { input: 'p' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /cannot reach 127\.0\.0\.1:1 to check the credential \(ECONNREFUSED\); pass --no-verify/,
    );
    const stored = await cli(['login', '127.0.0.1:1', '-u', 'u', '--password-stdin', '--no-verify'], { input: 'p' });
    expect(stored.stdout).toMatch(/\(not checked: --no-verify\)/);
  });

  it('a registry whose tokens credrelay mints needs no login', async () => {
    const result = await cli(
      ['login', '123456789012.dkr.ecr.us-east-1.amazonaws.com', '-u', 'AWS', '--password-stdin'],
      { input: 'x' },
    );
    expect(result.stdout).toMatch(
      /is served by the ecr provider, which obtains its own credentials: no login is needed, nothing was stored/,
    );
  });

  it('logout erases under any spelling', async () => {
    // What the tests above stored, stored again: this test starts from that state on its own too.
    await cli(['login', `http://${registry.host}`, '-u', registry.username, '--password-stdin'], {
      input: registry.password,
    });
    await cli(['login', '127.0.0.1:1', '-u', 'u', '--password-stdin', '--no-verify'], { input: 'p' });
    expect((await cli(['logout', `https://${registry.host}/v2/`])).stdout).toBe(
      `Removed the credentials for ${registry.host}\n`,
    );
    expect(await listed()).toEqual({ '127.0.0.1:1': 'u' });
    await cli(['logout', '127.0.0.1:1']);
  });

  it('logout of what is not stored says so, and of an ECR host says once that nothing is stored', async () => {
    const nothing = await cli(['logout', 'never-stored.example']);
    expect(nothing.stdout).toBe('Nothing was stored for never-stored.example\n');
    const ecr = await cli(['logout', '123456789012.dkr.ecr.us-east-1.amazonaws.com']);
    expect(ecr.stdout).toBe(
      'Nothing is stored for 123456789012.dkr.ecr.us-east-1.amazonaws.com: the ecr provider obtains its own credentials (its cached tokens were dropped)\n',
    );
    expect(ecr.stderr).toBe('');
    // docker logout erases up to four spellings, each in a helper of its own: one notice in all.
    const host = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
    const notices = await Promise.all(
      [host, `http://${host}`, `https://${host}`].map(
        async (spelling) => (await runHelper('erase', spelling, env)).stderr,
      ),
    );
    expect(notices.join('').match(/nothing is stored to erase/g)).toHaveLength(1);
  });

  it('left the password in no file', () => {
    expect(filesContaining(session.root, registry.password)).toEqual([]);
  });
});

/** An AWS profile and a configuration with an ECR route and a static route, as route and doctor explain them. */
function writeRoutedConfig(): void {
  mkdirSync(join(session.home, '.aws'), { recursive: true });
  writeFileSync(
    join(session.home, '.aws', 'credentials'),
    '[default]\naws_access_key_id = AKIDCLIPROFILE000001\naws_secret_access_key = x\n',
  );
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      '123456789012.dkr.ecr.us-east-1.amazonaws.com': { provider: 'ecr', profile: 'default' },
      'https://index.docker.io/v1/': { username: 'myuser', password: '$DOCKERHUB_TOKEN' },
    },
  });
}

describe('credrelay route and providers', () => {
  beforeAll(writeRoutedConfig);

  it('explains a registries entry, naming secrets without resolving them', async () => {
    await cli(['daemon', 'stop']);
    const result = await cli(['route', 'registry-1.docker.io']);
    expect(result.stdout).toBe(
      [
        'registry   docker.io (host registry-1.docker.io, Docker Hub)',
        'routed by  the registries entry "https://index.docker.io/v1/"',
        'provider   static: A fixed username and a password from a named secret ($NAME: keychain, then environment)',
        'options    username=myuser, password=$DOCKERHUB_TOKEN (secret DOCKERHUB_TOKEN, not shown)',
        "secret     DOCKERHUB_TOKEN: the store, then the caller's environment",
        'cache      no daemon is running, so nothing is cached',
        'store      the Secret Service (D-Bus) ("store": "auto"); reachable',
        '',
      ].join('\n'),
    );
  });

  it('explains a matcher decision and a cached token', async () => {
    const host = '210987654321.dkr.ecr.eu-west-1.amazonaws.com';
    proxy.behaviour.expiresInSeconds = 12 * 3600;
    expect((await runHelper('get', host, env)).code).toBe(0); // through the daemon: now cached
    const result = await cli(['route', host, '--json']);
    const route = JSON.parse(result.stdout) as {
      reason: { kind: string };
      provider: string;
      cache: { expiresAt: string } | null;
    };
    expect(route).toMatchObject({ provider: 'ecr', reason: { kind: 'matcher' } });
    expect(Date.parse(route.cache!.expiresAt)).toBeGreaterThan(Date.now() + 11 * 3600_000);
    expect((await cli(['route', 'elsewhere.example'])).stdout).toMatch(
      /routed by {2}no registries entry or provider claims it, so the keychain answers/,
    );
    // An ECR route reads no store: the store's state (a D-Bus line on a machine without one) is not said for it.
    expect((await cli(['route', host])).stdout).toMatch(
      /^store {6}not read by this route \(the OS keychain keeps only what the keychain provider and \$NAME secrets hold\)$/m,
    );
  });

  it("login --help's examples are true: each host is one whose login is stored (the keychain answers it)", async () => {
    const help = (await cli(['login', '--help'])).stdout;
    const hosts = [...help.matchAll(/credrelay login (\S+)/g)].map((match) => match[1]!);
    expect(hosts.length).toBeGreaterThan(1);
    for (const host of hosts) {
      const route = JSON.parse((await cli(['route', host, '--json'])).stdout) as { provider: string };
      expect(route.provider, host).toBe('keychain');
    }
  });

  it('providers lists built-in providers with host patterns and options', async () => {
    const listed = JSON.parse((await cli(['providers', '--json'])).stdout) as Array<{
      name: string;
      hostPatterns: string[];
      options: Record<string, string>;
    }>;
    expect(listed.map((provider) => provider.name)).toEqual([
      'ecr',
      'gar',
      'ghcr',
      'acr',
      'dockerhub',
      'static',
      'exec',
      'keychain',
    ]);
    expect(listed[0]!.hostPatterns.join(' ')).toMatch(/dkr\.ecr/);
    expect(Object.keys(listed[1]!.options)).toEqual([
      'keySecret',
      'impersonate',
      'workloadIdentityProvider',
      'stsEndpoint',
      'iamCredentialsEndpoint',
    ]);
  });
});

describe('credrelay doctor', () => {
  it('on a healthy set-up: every check passes, exit 0, and no secret is printed', async () => {
    writeRoutedConfig();
    await cli(['configure-docker']);
    await cli(['secrets', 'set', 'DOCKERHUB_TOKEN'], { input: 'doctor-canary-pat' });
    // A machine without podman, buildah or skopeo (this one has them: their check is below): node and credrelay only.
    const noContainers = { PATH: `${join(REPO_ROOT, 'bin')}:${pathWithOnlyNode(join(session.root, 'node-only'))}` };
    await runHelper('list', '', { ...env, ...noContainers }); // a running daemon, so that its socket is checked too
    const result = await cli(['doctor'], { env: noContainers });
    expect(result.stdout).not.toContain('doctor-canary-pat');
    expect(result.stdout).toMatch(
      /^✓ helper on PATH +.*\/bin\/docker-credential-credrelay \(Docker runs the Node client(: CREDRELAY_NATIVE=0 makes the native client hand every request to it| \(no native client for linux-\w+: .*\)); credrelay [\d.]+\)$/m,
    );
    expect(result.stdout).toMatch(/^✓ docker config +.*"credsStore": "credrelay"/m);
    expect(result.stdout).toMatch(/^✓ keychain +reachable/m);
    expect(result.stdout).toMatch(
      new RegExp(`^✓ daemon +running \\(pid \\d+, version ${VERSION_PATTERN}\\) .*0600 socket`, 'm'),
    );
    expect(result.stdout).toMatch(/^✓ config +.*2 registries entries/m);
    expect(result.stdout).toMatch(
      /^✓ ecr for 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com +AWS identity arn:aws:(iam|sts)::\d{12}:\S+ \(account \d{12}\)$/m,
    );
    expect(result.stdout).toMatch(/^✓ static for https:\/\/index\.docker\.io\/v1\/ +secret DOCKERHUB_TOKEN is set$/m);
    expect(result.code).toBe(0);
    const json = JSON.parse((await cli(['doctor', '--json'], { env: noContainers })).stdout) as Array<{
      status: string;
    }>;
    expect(json.every((check) => check.status === 'ok')).toBe(true);
    // Where they are installed and not configured, doctor says how to send their logins through credrelay.
    const withContainers = await cli(['doctor']);
    expect(withContainers.stdout).toMatch(
      /^! podman, buildah, skopeo +.*keep logins in their own auth file, not in credrelay\n +fix: run `credrelay configure-docker --containers`$/m,
    );
  });

  it('says there is no configuration file, rather than counting its entries, when there is none', async () => {
    const missing = join(session.root, 'no-such-config.json');
    const result = await cli(['doctor'], { env: { CREDRELAY_CONFIG: missing } });
    expect(result.stdout).toMatch(
      new RegExp(`^✓ config +no file at ${missing.replace(/[.]/g, '\\.')}: the defaults`, 'm'),
    );
    expect(result.stdout).not.toMatch(/0 registries entries/);
  });

  it('suggests the command meant by one it does not know', async () => {
    const result = await cli(['secret', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^credrelay: "secret" is not a credrelay command; did you mean `credrelay secrets list`\?/,
    );
  });

  it('headless, with no Secret Service: the keychain check names the file store and where to turn it on', async () => {
    const headless = await startKeyring('no-secret-service');
    try {
      const result = await run(CLI, ['doctor'], { env: headless.env });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(
          `^✗ keychain +.*\\n +fix: on a machine without a keychain \\(a server, a CI runner\\), turn on the encrypted file store with "store": "file" in ${headless.env.XDG_CONFIG_HOME!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/credrelay/config\\.json`,
          'm',
        ),
      );
    } finally {
      await headless.stop();
    }
  });

  it('on a broken machine: each failure has a fix, and the exit code is 1', async () => {
    const broken = await startKeyring('locked');
    try {
      writeCredrelayConfig(broken.env.XDG_CONFIG_HOME!, { registries: { 'r.example': { provider: 'nope' } } });
      const result = await run(CLI, ['doctor'], {
        env: {
          ...broken.env,
          DOCKER_CONFIG: join(broken.root, 'no-docker'),
          PATH: pathWithOnlyNode(join(broken.root, 'node-only')),
        },
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /^✗ helper on PATH +docker-credential-credrelay is not on PATH.*\n +fix: run `npm link`/m,
      );
      expect(result.stdout).toMatch(/^✗ docker config +.*does not exist\n +fix: run `credrelay configure-docker`/m);
      expect(result.stdout, result.stdout).toMatch(/^✗ keychain +the OS keychain is locked/m);
      expect(result.stdout).toMatch(/^✗ config +invalid configuration in .*names provider "nope"/m);
    } finally {
      await broken.stop();
    }
  });
});

describe('help and completion', () => {
  const commands = [
    'configure-docker',
    'login',
    'logout',
    'route',
    'doctor',
    'providers',
    'secrets set',
    'secrets list',
    'secrets unset',
    'daemon start',
    'daemon stop',
    'daemon status',
    'daemon run',
    'cache list',
    'cache clear',
  ];
  it.each(commands)('credrelay %s --help has a description, usage and examples', async (command) => {
    const result = await run(CLI, [...command.split(' '), '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^USAGE\n {2}\$ credrelay /m);
    expect(result.stdout).toMatch(/^DESCRIPTION\n/m);
    expect(result.stdout).toMatch(/^EXAMPLES\n/m);
  });

  it('bash completion is available', async () => {
    const result = await cli(['autocomplete', 'script', 'bash']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/CREDRELAY_AC_BASH_SETUP_PATH/);
  });

  it('the README documents every command', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    for (const command of commands) expect(readme, command).toContain(`credrelay ${command}`);
  });
});
