import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { type ClientHome, makeClientHome } from '../support/client-home.js';
import { writeCredrelayConfig } from '../support/config.js';
import { type Dockerd, containerEngine, enginesInstalled, startDockerd } from '../support/engines.js';
import { CLI, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';
import { writeOciImage } from '../support/oci-image.js';
import { type Registry, startRegistry } from '../support/registry.js';

/**
 * The real image engines, each pulling a private base image whose credential is a credrelay route: dockerd 20.10
 * (pull, push, a BuildKit build, the legacy builder, which asks `list` and then `get` only for what it names),
 * buildah and podman builds (credHelpers only; they run helpers with TMPDIR=/var/tmp). Two routes: a static one whose
 * password is `$REG_TOKEN` (from the environment, then from `credrelay secrets set`), and an ECR route against moto.
 */
const ACCOUNT = '123456789012';
/** moto's GetAuthorizationToken password for an account. */
const MOTO_PASSWORD = (account: string) => `${account}-auth-token`;
let session: Keyring;
let registry: Registry;
let ecrRegistry: Registry;
let moto: Moto;
let proxy: AwsProxy;
let dockerd: Dockerd;
let client: ClientHome;
let env: Record<string, string | undefined>;
let context: string;

/** A base image, pushed once with skopeo and the registry's own credentials. */
async function pushBase(host: string, username: string, password: string): Promise<void> {
  const image = writeOciImage(join(client.home, `base-${host.replace(/\W/g, '-')}`));
  const pushed = await run(
    'skopeo',
    [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${username}:${password}`,
      image,
      `docker://${host}/private/base:1`,
    ],
    { env: { HOME: client.home } },
  );
  expect(pushed.code, pushed.stderr).toBe(0);
}

/** A build context `FROM` the base image on `host`, with a COPY (no RUN: nothing runs in a container). */
function buildContext(host: string): string {
  const dir = join(client.home, `context-${host.replace(/\W/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${host}/private/base:1\nCOPY added.txt /added.txt\n`);
  writeFileSync(join(dir, 'added.txt'), 'built through credrelay\n');
  return dir;
}

beforeAll(async () => {
  if (!enginesInstalled()) throw new Error('dockerd, buildah and podman are missing: run scripts/install-test-deps.sh');
  [session, registry, ecrRegistry, moto] = await Promise.all([
    startKeyring(),
    startRegistry('ci-user', 'reg-token-5521'),
    startRegistry('AWS', MOTO_PASSWORD(ACCOUNT)),
    startMoto(),
  ]);
  [proxy, dockerd] = await Promise.all([startAwsProxy(moto.endpoint), startDockerd()]);
  proxy.behaviour.expiresInSeconds = 12 * 3600;
  client = makeClientHome();
  // What `credrelay configure-docker` writes, and nothing else: so the legacy builder reaches a route only if `list`
  // names it. buildah and podman read credHelpers only: their authfile is what `configure-docker --registries` adds.
  client.writeDockerConfig({ credsStore: 'credrelay' });
  client.writeAuthFile('containers-auth.json', {
    credHelpers: { [registry.host]: 'credrelay', [ecrRegistry.host]: 'credrelay' },
  });
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      [registry.host]: { provider: 'static', username: 'ci-user', password: '$REG_TOKEN' },
      [ecrRegistry.host]: { provider: 'ecr', registryId: ACCOUNT, region: 'us-east-1' },
    },
  });
  env = {
    ...session.env,
    ...client.env,
    DOCKER_HOST: dockerd.host,
    REG_TOKEN: registry.password,
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDENGINES000000001',
    AWS_SECRET_ACCESS_KEY: 'engines-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  await Promise.all([
    pushBase(registry.host, registry.username, registry.password),
    pushBase(ecrRegistry.host, ecrRegistry.username, ecrRegistry.password),
  ]);
  context = buildContext(registry.host);
}, 120_000);
afterAll(async () => {
  await dockerd?.stop();
  await session?.stop();
  await Promise.all([registry?.stop(), ecrRegistry?.stop(), proxy?.stop(), moto?.stop()]);
  client?.remove();
}, 60_000);

/**
 * Debian's 20.10 client: its builtin BuildKit builds with DOCKER_BUILDKIT=1 (a newer CLI without buildx has none),
 * and its legacy builder with DOCKER_BUILDKIT=0.
 */
const DOCKER = '/usr/bin/docker';
const docker = (args: string[], extra: Record<string, string | undefined> = {}) =>
  run(DOCKER, args, { env: { ...env, ...extra }, timeoutMs: 120_000 });
/** Forgets the engine's copy of the base image, so that the next pull asks the registry (and credrelay) again. */
const forgetBase = (host: string) => docker(['image', 'rm', '-f', `${host}/private/base:1`]);
const NOT_SET = /secret REG_TOKEN is not set: run `credrelay secrets set REG_TOKEN`/;
/**
 * A `get` of a program of its own (a shell that stays its parent), as a user or a pull asks: not part of a collection
 * that this test process's own `list` began (src/service/collection.ts).
 */
const directGet = (host: string, extra: Record<string, string | undefined>) =>
  run('sh', ['-c', 'docker-credential-credrelay get; exit $?'], { input: host, env: { ...env, ...extra } });

describe('dockerd with "credsStore": "credrelay"', () => {
  it('docker pull, with the secret from the environment; without it, credrelay says what is missing', async () => {
    await forgetBase(registry.host);
    const pulled = await docker(['pull', `${registry.host}/private/base:1`]);
    expect(pulled.code, pulled.stderr).toBe(0);
    await forgetBase(registry.host);
    const missing = await docker(['pull', `${registry.host}/private/base:1`], { REG_TOKEN: undefined });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(NOT_SET);
  });

  it('docker push of a new tag', async () => {
    expect((await docker(['pull', `${registry.host}/private/base:1`])).code).toBe(0);
    expect((await docker(['tag', `${registry.host}/private/base:1`, `${registry.host}/private/pushed:1`])).code).toBe(
      0,
    );
    const pushed = await docker(['push', `${registry.host}/private/pushed:1`]);
    expect(pushed.code, pushed.stderr).toBe(0);
  });

  it('a BuildKit build FROM the private image; without the secret, credrelay says what is missing', async () => {
    await forgetBase(registry.host);
    const built = await docker(['build', '--progress=plain', '-t', 'built:buildkit', context], {
      DOCKER_BUILDKIT: '1',
    });
    expect(built.code, built.stderr).toBe(0);
    const missing = await docker(['build', '--progress=plain', '--no-cache', '-t', 'built:missing', context], {
      DOCKER_BUILDKIT: '1',
      REG_TOKEN: undefined,
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(NOT_SET);
  });

  it('the legacy builder, which gets only what `list` names, builds FROM the private image', async () => {
    await forgetBase(registry.host);
    const listed = JSON.parse((await runHelper('list', '', env)).stdout) as Record<string, string>;
    expect(listed).toMatchObject({ [registry.host]: 'ci-user', [ecrRegistry.host]: 'AWS' });
    const built = await docker(['build', '-t', 'built:legacy', context], { DOCKER_BUILDKIT: '0' });
    expect(built.code, built.stdout + built.stderr).toBe(0);
    // The legacy builder drops a helper's error (docker/cli ignores GetAllCredentials' error): the registry's refusal
    // is all it shows, and credrelay's reason is in `credrelay route` and the helper's own answer.
    await forgetBase(registry.host);
    const missing = await docker(['build', '-t', 'built:legacy-missing', context], {
      DOCKER_BUILDKIT: '0',
      REG_TOKEN: undefined,
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stdout + missing.stderr).toMatch(/no basic auth credentials|unauthorized|authentication required/);
    // The build's output now carries credrelay's reason too: the legacy builder collects, and a failing get among
    // what it collects is "not found" to it, with the reason on stderr, which it passes through.
    expect(missing.stderr).toMatch(NOT_SET);
    const asked = await directGet(registry.host, { REG_TOKEN: undefined });
    expect(asked.stdout).toMatch(NOT_SET);
  });

  it('the secret from `credrelay secrets set` serves a pull and a BuildKit build as the environment does', async () => {
    const set = await run(CLI, ['secrets', 'set', 'REG_TOKEN'], {
      env: { ...env, REG_TOKEN: undefined },
      input: registry.password,
    });
    expect(set.code, set.stderr).toBe(0);
    try {
      await forgetBase(registry.host);
      const pulled = await docker(['pull', `${registry.host}/private/base:1`], { REG_TOKEN: undefined });
      expect(pulled.code, pulled.stderr).toBe(0);
      const built = await docker(['build', '--no-cache', '-t', 'built:stored', context], {
        DOCKER_BUILDKIT: '1',
        REG_TOKEN: undefined,
      });
      expect(built.code, built.stderr).toBe(0);
      const legacy = await docker(['build', '--no-cache', '-t', 'built:stored-legacy', context], {
        DOCKER_BUILDKIT: '0',
        REG_TOKEN: undefined,
      });
      expect(legacy.code, legacy.stdout + legacy.stderr).toBe(0);
    } finally {
      await run(CLI, ['secrets', 'unset', 'REG_TOKEN'], { env });
    }
  });

  it('an ECR route: pull, BuildKit and legacy builds, with a token from moto', async () => {
    const ecrContext = buildContext(ecrRegistry.host);
    await forgetBase(ecrRegistry.host);
    const pulled = await docker(['pull', `${ecrRegistry.host}/private/base:1`]);
    expect(pulled.code, pulled.stderr).toBe(0);
    await forgetBase(ecrRegistry.host);
    const built = await docker(['build', '--progress=plain', '-t', 'built:ecr', ecrContext], { DOCKER_BUILDKIT: '1' });
    expect(built.code, built.stderr).toBe(0);
    await forgetBase(ecrRegistry.host);
    const legacy = await docker(['build', '-t', 'built:ecr-legacy', ecrContext], { DOCKER_BUILDKIT: '0' });
    expect(legacy.code, legacy.stdout + legacy.stderr).toBe(0);
  });
});

describe('one failing route among those a caller collects', () => {
  // The ECR route's AWS session has expired (here: no AWS credentials at all); the build needs only the static route.
  const expired = () => ({
    ...env,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_PROFILE: 'expired-sso-session',
    AWS_CONFIG_FILE: join(client.home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(client.home, 'no-aws-credentials'),
  });
  const ECR_FAILURE = /credrelay: .*ECR credentials for .*(profile|credentials)/i;

  it('the legacy builder gets the good ones and builds FROM the static route; its output shows the ECR error', async () => {
    await forgetBase(registry.host);
    const built = await docker(['build', '-t', 'built:legacy-partial', context], {
      ...expired(),
      DOCKER_BUILDKIT: '0',
    });
    expect(built.code, built.stdout + built.stderr).toBe(0);
    expect(built.stderr).toMatch(ECR_FAILURE);
  });

  it("Docker's Python SDK collects every credential and builds", async () => {
    await forgetBase(registry.host);
    const script = [
      'import docker, json, os, sys',
      'config = docker.auth.load_config(config_path=os.path.join(os.environ["DOCKER_CONFIG"], "config.json"))',
      'print(json.dumps(sorted(config.get_all_credentials().keys())))',
      'docker.from_env().images.build(path=sys.argv[1], tag="built:python-sdk", pull=True)',
      'print("built")',
    ].join('\n');
    const result = await run('/usr/bin/python3', ['-c', script, context], { env: expired(), timeoutMs: 120_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(registry.host);
    expect(result.stdout).toMatch(/^built$/m);
    expect(result.stderr).toMatch(ECR_FAILURE);
  });

  it('a direct get for the failing route is still the explained error, never not-found', async () => {
    const asked = await directGet(ecrRegistry.host, expired());
    expect(asked.code).toBe(1);
    expect(asked.stdout).not.toBe('credentials not found in native keychain\n');
    expect(asked.stdout).toMatch(/ECR credentials for/);
  });
});

describe.each(['buildah', 'podman'] as const)('%s build with credHelpers -> credrelay', (name) => {
  const engine = containerEngine(name);
  afterAll(() => engine.remove());
  const authfile = () => join(client.home, 'containers-auth.json');

  it('builds FROM the private image with the secret from the environment, and from an ECR route', async () => {
    const built = await engine.build(context, `localhost/${name}-static:1`, authfile(), env);
    expect(built.code, built.stdout + built.stderr).toBe(0);
    const ecr = await engine.build(buildContext(ecrRegistry.host), `localhost/${name}-ecr:1`, authfile(), env);
    expect(ecr.code, ecr.stdout + ecr.stderr).toBe(0);
  });

  it('without the secret, shows what credrelay says is missing', async () => {
    const missing = await engine.build(context, `localhost/${name}-missing:1`, authfile(), {
      ...env,
      REG_TOKEN: undefined,
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stdout + missing.stderr).toMatch(NOT_SET);
  });
});
