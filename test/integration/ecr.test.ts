import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { socketGet } from '../support/daemon-load.js';
import { daemonSocketFor, CLI, HELPER, REPO_ROOT, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';
import { waitFor } from '../support/wait.js';

/** ECR through credrelay's daemon, against moto behind a recording proxy: every call and its signature is seen. */
const ACCOUNT = '123456789012';
const ECR_HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const MOTO_PASSWORD = (account: string) => `${account}-auth-token`;

let moto: Moto;
let proxy: AwsProxy;
let session: Keyring;
let registry: Registry;
let env: Record<string, string>;
let configPath: string;

const awsEnv = (endpoint: string) => ({
  AWS_ACCESS_KEY_ID: 'AKIDDEFAULTCHAIN0001',
  AWS_SECRET_ACCESS_KEY: 'default-chain-secret-key',
  AWS_ENDPOINT_URL_ECR: endpoint,
  AWS_ENDPOINT_URL_STS: endpoint,
  // Never let the SDK look for instance metadata: only loopback is a fair target here.
  AWS_EC2_METADATA_DISABLED: 'true',
});

const writeConfig = (document: unknown) => {
  mkdirSync(join(session.env.XDG_CONFIG_HOME!, 'credrelay'), { recursive: true });
  writeFileSync(configPath, JSON.stringify(document, null, 2));
};
const cli = (...args: string[]) => run(CLI, args, { env });

beforeAll(async () => {
  [moto, session, registry] = await Promise.all([
    startMoto(),
    startKeyring(),
    startRegistry('AWS', MOTO_PASSWORD(ACCOUNT)),
  ]);
  proxy = await startAwsProxy(moto.endpoint);
  env = { ...session.env, ...awsEnv(proxy.endpoint) };
  configPath = join(session.env.XDG_CONFIG_HOME!, 'credrelay', 'config.json');
  mkdirSync(join(session.home, '.aws'), { recursive: true });
  writeFileSync(
    join(session.home, '.aws', 'credentials'),
    '[prod]\naws_access_key_id = AKIDPRODPROFILE00001\naws_secret_access_key = prod-secret\n',
  );
  writeConfig({
    registries: {
      '210987654321.dkr.ecr.eu-west-1.amazonaws.com': { provider: 'ecr', profile: 'prod' },
      '333333333333.dkr.ecr.us-west-2.amazonaws.com': {
        provider: 'ecr',
        roleArn: `arn:aws:iam::${ACCOUNT}:role/puller`,
        externalId: 'ext-4242',
        sessionName: 'credrelay-test',
      },
      [registry.host]: { provider: 'ecr', registryId: ACCOUNT, region: 'us-east-1' },
    },
  });
});
afterAll(async () => {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop(), registry.stop()]);
});
beforeEach(() => {
  proxy.behaviour.expiresInSeconds = 12 * 3600;
  proxy.behaviour.uniqueTokens = false;
  proxy.behaviour.failEcrWith = undefined;
});

const get = (host: string, extraEnv: Record<string, string> = {}) => runHelper('get', host, { ...env, ...extraEnv });
const secretOf = (stdout: string) => (JSON.parse(stdout) as { Secret: string }).Secret;

describe('ECR host forms', () => {
  const forms: Array<[string, string, string]> = [
    [ECR_HOST, ACCOUNT, 'us-east-1'],
    [`https://${ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com/v2/`, ACCOUNT, 'eu-central-1'],
    [`111111111111.dkr.ecr-fips.us-gov-west-1.amazonaws.com`, '111111111111', 'us-gov-west-1'],
    [`222222222222.dkr.ecr.cn-north-1.amazonaws.com.cn`, '222222222222', 'cn-north-1'],
    [`444444444444.dkr-ecr.ap-south-1.on.aws`, '444444444444', 'ap-south-1'],
    [`555555555555.dkr.ecr.eusc-de-east-1.amazonaws.eu:443`, '555555555555', 'eusc-de-east-1'],
  ];
  it.each(forms)('%s -> account %s, signed for %s', async (host, account, region) => {
    const before = proxy.calls.length;
    const result = await get(host);
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0 });
    expect(JSON.parse(result.stdout)).toEqual({ ServerURL: host, Username: 'AWS', Secret: MOTO_PASSWORD(account) });
    const calls = proxy.calls.slice(before);
    expect(calls.map((call) => [call.action, call.region, call.accessKeyId])).toEqual([
      ['ecr:GetAuthorizationToken', region, 'AKIDDEFAULTCHAIN0001'],
    ]);
    expect(JSON.parse(calls[0]!.body)).toEqual({ registryIds: [account] });
  });

  it('spoofed hosts never cause an upstream call', async () => {
    const before = proxy.calls.length;
    for (const spoof of [
      `${ECR_HOST}.attacker.example`,
      `attacker.example/${ECR_HOST}`,
      `${ECR_HOST}:5000`,
      `12345678901.dkr.ecr.us-east-1.amazonaws.com`,
      `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.comattacker.example`,
    ]) {
      expect((await get(spoof)).stdout, spoof).toBe('credentials not found in native keychain\n');
    }
    for (const refused of [`https://${ECR_HOST}@attacker.example`, `ftp://${ECR_HOST}`, `${ECR_HOST} x`]) {
      expect((await get(refused)).stdout, refused).toMatch(/^invalid registry server URL/);
    }
    expect(proxy.calls.length).toBe(before);
  });
});

describe('the daemon caches ECR tokens', () => {
  const HOST = '666666666666.dkr.ecr.us-east-2.amazonaws.com';

  it('a second get is answered from memory; cache list shows it without the secret; cache clear forgets it', async () => {
    expect((await get(HOST)).code).toBe(0);
    expect((await get(HOST)).code).toBe(0);
    expect(proxy.tokenCalls('666666666666')).toHaveLength(1);
    const listed = JSON.parse((await cli('cache', 'list', '--json')).stdout) as Array<
      Record<string, string | undefined>
    >;
    const entry = listed.find((row) => row.registry === HOST);
    expect(entry).toMatchObject({ provider: 'ecr', registry: HOST });
    expect(Date.parse(entry!.expiresAt!) - Date.now()).toBeGreaterThan(11 * 3600_000);
    expect(JSON.stringify(listed)).not.toContain(MOTO_PASSWORD('666666666666'));
    expect((await cli('cache', 'clear', `https://${HOST}`)).stdout).toBe('removed 1 cached token(s)\n');
    expect((await get(HOST)).code).toBe(0);
    expect(proxy.tokenCalls('666666666666')).toHaveLength(2);
  });

  it('refreshes in the background before expiry, serving the cached token meanwhile', async () => {
    const host = '777777777777.dkr.ecr.us-east-2.amazonaws.com';
    // A 40-second token is past its refresh point at once and expires (less the 30 s margin) 10 s after it is fetched.
    proxy.behaviour.expiresInSeconds = 40;
    proxy.behaviour.uniqueTokens = true;
    const first = secretOf((await get(host)).stdout);
    const second = secretOf((await get(host)).stdout);
    expect(second).toBe(first); // served from memory while a refresh runs
    await waitFor('the background refresh', () => proxy.tokenCalls('777777777777').length === 2);
    await waitFor('the refreshed token to be served', async () => secretOf((await get(host)).stdout) !== first);
  });

  it('300 concurrent gets for a new registry make exactly one upstream call', async () => {
    const host = '888888888888.dkr.ecr.ca-central-1.amazonaws.com';
    proxy.behaviour.delayMs = 300; // a realistic token exchange, so the requests really overlap
    try {
      await runHelper('list', '', env); // a running daemon, whatever ran before
      const socketPath = daemonSocketFor(env);
      const secrets = await Promise.all(Array.from({ length: 300 }, () => socketGet(socketPath, host)));
      for (const secret of secrets) expect(secret).toBe(MOTO_PASSWORD('888888888888'));
      expect(proxy.tokenCalls('888888888888')).toHaveLength(1);
    } finally {
      proxy.behaviour.delayMs = 0;
    }
  });
});

describe('routes with options', () => {
  it('a profile route signs with that profile, and sees a changed ~/.aws without a restart', async () => {
    const host = '210987654321.dkr.ecr.eu-west-1.amazonaws.com';
    expect((await get(host)).code).toBe(0);
    expect(proxy.tokenCalls('210987654321').at(-1)).toMatchObject({
      region: 'eu-west-1',
      accessKeyId: 'AKIDPRODPROFILE00001',
    });
    writeFileSync(
      join(session.home, '.aws', 'credentials'),
      '[prod]\naws_access_key_id = AKIDPRODROTATED00002\naws_secret_access_key = rotated\n',
    );
    await cli('cache', 'clear', host);
    expect((await get(host)).code).toBe(0);
    expect(proxy.tokenCalls('210987654321').at(-1)).toMatchObject({ accessKeyId: 'AKIDPRODROTATED00002' });
  });

  it('a roleArn route assumes the role through STS (external ID, session name) and signs with its credentials', async () => {
    const host = '333333333333.dkr.ecr.us-west-2.amazonaws.com';
    const before = proxy.calls.length;
    const result = await get(host);
    expect(result).toMatchObject({ code: 0 });
    expect(secretOf(result.stdout)).toBe(MOTO_PASSWORD('333333333333'));
    const calls = proxy.calls.slice(before);
    expect(calls.map((call) => call.action)).toEqual(['sts:AssumeRole', 'ecr:GetAuthorizationToken']);
    const assume = new URLSearchParams(calls[0]!.body);
    expect(
      Object.fromEntries(['RoleArn', 'ExternalId', 'RoleSessionName'].map((key) => [key, assume.get(key)])),
    ).toEqual({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/puller`,
      ExternalId: 'ext-4242',
      RoleSessionName: 'credrelay-test',
    });
    expect(calls[0]).toMatchObject({ accessKeyId: 'AKIDDEFAULTCHAIN0001', region: 'us-west-2' });
    expect(calls[1]!.accessKeyId).toMatch(/^ASIA/); // the assumed role's temporary key
  });

  it('a custom domain fronting an ECR account works for real: skopeo pushes and inspects with the ECR token', async () => {
    const { pushed, inspected } = await pushAndInspect(registry.host, session.home, env, 'app:v1');
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(inspected.code).toBe(0);
    expect(proxy.tokenCalls(ACCOUNT).length).toBeGreaterThan(0);
  });
});

describe('failures are real errors, never "not found"', () => {
  it('an unreachable endpoint says so, within the deadline', async () => {
    const started = Date.now();
    const result = await get(ECR_HOST, { CREDRELAY_NO_DAEMON: '1', AWS_ENDPOINT_URL_ECR: 'http://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^ECR credentials for 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com: cannot reach the ECR endpoint for us-east-1 \(ECONNREFUSED\)/,
    );
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it('no AWS credentials at all says which sources were tried and how to fix it', async () => {
    const result = await runHelper('get', ECR_HOST, {
      ...session.env,
      HOME: join(session.root, 'empty-home'),
      CREDRELAY_NO_DAEMON: '1',
      AWS_ENDPOINT_URL_ECR: proxy.endpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_PROFILE: undefined,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /no AWS credentials found for the default AWS credentials \(tried the environment, shared config .*\): run `aws configure`/,
    );
  });

  it('an access-denied answer names the permission', async () => {
    proxy.behaviour.failEcrWith = { status: 400, code: 'AccessDeniedException' };
    const result = await get('999999999999.dkr.ecr.us-east-1.amazonaws.com');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/AWS denied the request \(AccessDeniedException\): .*ecr:GetAuthorizationToken/);
  });
});

describe('store, erase and list for ECR hosts', () => {
  it('store and erase succeed as no-ops with a notice; list makes no AWS call', async () => {
    const before = proxy.calls.length;
    const stored = await runHelper(
      'store',
      JSON.stringify({ ServerURL: ECR_HOST, Username: 'AWS', Secret: 'pasted-token' }),
      env,
    );
    expect(stored).toMatchObject({ code: 0, stdout: '' });
    expect(stored.stderr).toMatch(/served by the ecr provider, which mints its own credentials; nothing was stored/);
    const erased = await runHelper('erase', ECR_HOST, env);
    expect(erased).toMatchObject({ code: 0, stdout: '' });
    expect(JSON.parse((await runHelper('list', '', env)).stdout)).not.toHaveProperty(ECR_HOST);
    expect(proxy.calls.length).toBe(before);
    expect(session.search('credrelay')).not.toContain('pasted-token');
  });
});

describe('configuration errors reach the user', () => {
  it('an unknown provider in the config is an error on every get, naming the key and the fix', async () => {
    const result = await runHelper('get', 'any.example', {
      ...env,
      CREDRELAY_NO_DAEMON: '1',
      CREDRELAY_CONFIG: join(session.root, 'bad-config.json'),
    }).then(async (first) => {
      writeFileSync(
        join(session.root, 'bad-config.json'),
        JSON.stringify({ registries: { 'any.example': { provider: 'nope' } } }),
      );
      expect(first.stdout).toBe('credentials not found in native keychain\n');
      return runHelper('get', 'any.example', {
        ...env,
        CREDRELAY_NO_DAEMON: '1',
        CREDRELAY_CONFIG: join(session.root, 'bad-config.json'),
      });
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /invalid configuration in .*bad-config\.json: registries "any\.example" names provider "nope", which does not exist; known providers: keychain, ecr/,
    );
  });
});

describe('ECR Public', () => {
  it('public.ecr.aws gets a token from ECR Public in us-east-1', async () => {
    const { createServer } = await import('node:http');
    const seen: Array<{ target: string; authorization: string }> = [];
    const server = createServer((request, response) => {
      seen.push({
        target: String(request.headers['x-amz-target']),
        authorization: String(request.headers.authorization),
      });
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({
            authorizationData: {
              authorizationToken: Buffer.from('AWS:public-token').toString('base64'),
              expiresAt: Date.now() / 1000 + 43_200,
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const result = await runHelper('get', 'public.ecr.aws', {
        ...env,
        CREDRELAY_NO_DAEMON: '1',
        AWS_ENDPOINT_URL_ECR_PUBLIC: `http://127.0.0.1:${port}`,
      });
      expect(result).toMatchObject({
        code: 0,
        stdout: '{"ServerURL":"public.ecr.aws","Username":"AWS","Secret":"public-token"}\n',
      });
      expect(seen).toHaveLength(1);
      expect(seen[0]!.target).toBe('SpencerFrontendService.GetAuthorizationToken');
      expect(seen[0]!.authorization).toMatch(
        /Credential=AKIDDEFAULTCHAIN0001\/\d{8}\/us-east-1\/ecr-public\/aws4_request/,
      );
    } finally {
      server.close();
    }
  });
});

describe('kubelet image credential provider', () => {
  const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'kubelet', name), 'utf8');
  const kubelet = (input: string, extra: Record<string, string> = {}) =>
    run(HELPER, ['kubelet'], { input, env: { ...env, ...extra } });

  it('an ECR image gets the token under its registry, for half the token life', async () => {
    const result = await kubelet(fixture('ecr-v1.json'));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const response = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(response)).toEqual(['apiVersion', 'kind', 'cacheKeyType', 'cacheDuration', 'auth']);
    expect(response).toMatchObject({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Registry',
      auth: { [ECR_HOST]: { username: 'AWS', password: MOTO_PASSWORD(ACCOUNT) } },
    });
    expect(response.cacheDuration).toMatch(/^(5h\d{1,2}m\d{1,2}s|6h0m0s)$/);
  });

  it('a spoofed image registry, or one nothing serves, gets an empty auth and exit 0, with no AWS call', async () => {
    const before = proxy.calls.length;
    for (const name of ['spoofed-ecr.json', 'docker-hub.json']) {
      const result = await kubelet(fixture(name));
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toStrictEqual({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderResponse',
        cacheKeyType: 'Registry',
        auth: {},
      });
    }
    expect(proxy.calls.length).toBe(before);
  });

  it('a provider failure is an error on stderr and a non-zero exit', async () => {
    const result = await kubelet(fixture('ecr-v1.json'), {
      CREDRELAY_NO_DAEMON: '1',
      AWS_ENDPOINT_URL_ECR: 'http://127.0.0.1:1',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^credrelay: ECR credentials for 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com: cannot reach the ECR endpoint/,
    );
  });
});
