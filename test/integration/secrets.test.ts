import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { writeCredrelayConfig } from '../support/config.js';
import { CLI, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { type Moto, startMoto } from '../support/moto.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';

/**
 * `credrelay secrets` and secret references, with the registries configuration a typical build platform uses:
 * Docker Hub with a PAT, Artifact Registry with a base64 service-account key, ECR (against moto), and a local
 * registry that skopeo really pushes to.
 */
const HUB_PAT = 'dckr_pat_canary_7731';
const AR_KEY_BASE64 = Buffer.from(
  JSON.stringify({ type: 'service_account', client_email: 'ar@p.iam.gserviceaccount.com', private_key: 'k' }),
).toString('base64');

let session: Keyring;
let registry: Registry;
let moto: Moto;
let proxy: AwsProxy;
let env: Record<string, string>;

const cli = (args: string[], input?: string) => run(CLI, args, { env, ...(input === undefined ? {} : { input }) });

beforeAll(async () => {
  [session, registry, moto] = await Promise.all([
    startKeyring(),
    startRegistry('ci-bot', 'local-registry-token-5512'),
    startMoto(),
  ]);
  proxy = await startAwsProxy(moto.endpoint);
  proxy.behaviour.expiresInSeconds = 12 * 3600;
  env = {
    ...session.env,
    AWS_ACCESS_KEY_ID: 'AKIDSECRETSTEST00001',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      'https://index.docker.io/v1/': { username: 'myuser', password: '$DOCKERHUB_TOKEN' },
      'us-docker.pkg.dev': { username: '_json_key_base64', password: '$GOOGLE_AR_JSON_BASE64' },
      '123456789012.dkr.ecr.us-east-1.amazonaws.com': { provider: 'ecr' },
      [registry.host]: { username: 'ci-bot', password: '$LOCAL_REGISTRY_TOKEN' },
    },
  });
});
afterAll(async () => {
  await session.stop();
  await Promise.all([registry.stop(), proxy.stop(), moto.stop()]);
});

/** The secrets the example configuration names, set again: a test that needs them starts from them on its own. */
async function givenSecrets(): Promise<void> {
  for (const [name, value] of [
    ['DOCKERHUB_TOKEN', HUB_PAT],
    ['GOOGLE_AR_JSON_BASE64', AR_KEY_BASE64],
    ['LOCAL_REGISTRY_TOKEN', registry.password],
  ] as const) {
    expect((await cli(['secrets', 'set', name], value)).code).toBe(0);
  }
}

describe('credrelay secrets', () => {
  it('set reads the value from stdin and stores it in the keychain, apart from registry credentials', async () => {
    expect(await cli(['secrets', 'set', 'DOCKERHUB_TOKEN'], `${HUB_PAT}\n`)).toMatchObject({
      code: 0,
      stdout: 'stored secret DOCKERHUB_TOKEN in the OS keychain\n',
      stderr: '',
    });
    const keychain = session.search('credrelay-secrets');
    expect(keychain).toContain('attribute.username = DOCKERHUB_TOKEN');
    expect(keychain).toContain(`secret = ${HUB_PAT}\n`); // one trailing newline dropped
    expect(session.search('credrelay')).not.toContain('DOCKERHUB_TOKEN');
  });

  it('set NAME=VALUE works too, with a warning about the command line', async () => {
    const result = await cli(['secrets', 'set', 'GOOGLE_AR_JSON_BASE64=' + AR_KEY_BASE64]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/the value was passed on the command line/);
  });

  it('list shows names only, never values', async () => {
    await givenSecrets();
    const listed = await cli(['secrets', 'list']);
    expect(listed.stdout).toBe('DOCKERHUB_TOKEN\nGOOGLE_AR_JSON_BASE64\nLOCAL_REGISTRY_TOKEN\n');
    expect(JSON.parse((await cli(['secrets', 'list', '--json'])).stdout)).toEqual([
      'DOCKERHUB_TOKEN',
      'GOOGLE_AR_JSON_BASE64',
      'LOCAL_REGISTRY_TOKEN',
    ]);
  });

  it.each(['1BAD', 'HAS-DASH', 'has space', '$X'])('refuses the name %j', async (name) => {
    const result = await cli(['secrets', 'set', name], 'v');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not a secret name: use letters, digits and _/);
  });

  it('unset removes one, and says when there was none', async () => {
    await cli(['secrets', 'set', 'TEMPORARY'], 'gone-soon');
    expect((await cli(['secrets', 'unset', 'TEMPORARY'])).stdout).toBe('removed secret TEMPORARY\n');
    expect((await cli(['secrets', 'unset', 'TEMPORARY'])).stdout).toBe('no secret named TEMPORARY was stored\n');
  });
});

describe('the example configuration answers for every registry', () => {
  it('Docker Hub under every spelling: the username and the PAT from the keychain', async () => {
    await givenSecrets();
    for (const spelling of ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      const result = await runHelper('get', spelling, env);
      expect(JSON.parse(result.stdout)).toEqual({ ServerURL: spelling, Username: 'myuser', Secret: HUB_PAT });
    }
  });

  it('Artifact Registry in the _json_key_base64 shape, exactly as configured', async () => {
    await givenSecrets();
    expect(JSON.parse((await runHelper('get', 'us-docker.pkg.dev', env)).stdout)).toEqual({
      ServerURL: 'us-docker.pkg.dev',
      Username: '_json_key_base64',
      Secret: AR_KEY_BASE64,
    });
  });

  it('ECR with a freshly minted token (moto)', async () => {
    expect(
      JSON.parse((await runHelper('get', '123456789012.dkr.ecr.us-east-1.amazonaws.com', env)).stdout),
    ).toMatchObject({ Username: 'AWS', Secret: '123456789012-auth-token' });
    expect(proxy.tokenCalls('123456789012')).toHaveLength(1);
  });

  it('a registry on this machine: skopeo pushes and inspects with the referenced secret', async () => {
    await givenSecrets();
    const { pushed, inspected } = await pushAndInspect(registry.host, session.home, env);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(inspected.code).toBe(0);
  });

  it('a secret missing from the keychain is taken from the environment, and named when set nowhere', async () => {
    await cli(['secrets', 'unset', 'DOCKERHUB_TOKEN']);
    const fromEnv = await runHelper('get', 'docker.io', {
      ...env,
      CREDRELAY_NO_DAEMON: '1',
      DOCKERHUB_TOKEN: 'from-the-environment',
    });
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ Secret: 'from-the-environment' });
    const missing = await runHelper('get', 'docker.io', env);
    expect(missing).toMatchObject({
      code: 1,
      stdout:
        'secret DOCKERHUB_TOKEN is not set: run `credrelay secrets set DOCKERHUB_TOKEN`, or set DOCKERHUB_TOKEN in the environment of the program that asks for the credential\n',
    });
  });

  it('no secret value was written to any file of the session', () => {
    for (const value of [HUB_PAT, registry.password, AR_KEY_BASE64])
      expect(filesContaining(session.root, value)).toEqual([]);
  });
});
