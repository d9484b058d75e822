/**
 * "$NAME" from where teams keep secrets: AWS Secrets Manager through moto (a plain secret, a JSON field, a rotation
 * seen after ttlSeconds, a missing one explained, access through a role), and local stand-ins that check each request
 * as the real API documents it: Google Secret Manager's `:access` with the bearer of Application Default
 * Credentials, Azure Key Vault's REST API with an Entra token for Key Vault, Vault's KV v2 with a token and with a
 * JWT login as the CI job, an `op` CLI on PATH, and a command. skopeo pushes to an htpasswd registry with a password
 * that lives only in moto. Through the daemon and in-process; no value in any file or log line at debug level.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Entra, startEntra } from '../support/azure-endpoints.js';
import { writeCredrelayConfig } from '../support/config.js';
import {
  type MetadataServer,
  type StsServer,
  startMetadataServer,
  startStsServer,
} from '../support/google-endpoints.js';
import { CLI, pathWithCredrelay, run, runHelper } from '../support/helper.js';
import { serviceAccountToken, unsignedJwt } from '../support/jwt.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { type Moto, startMoto } from '../support/moto.js';
import { freePort } from '../support/ports.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';
import { makeTestCertificates } from '../support/tls.js';
import { makeTempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

const TENANT = '3c1d2e3f-4a5b-4c7d-8e9f-a0b1c2d3e4f5';
const APP = { clientId: '5b2c3d4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e', clientSecret: 'entra-secret-value-4411' };
/** The CI job's OIDC token (a token file, as a runner writes one), and the app registration that trusts it. */
const JOB_TOKEN = unsignedJwt({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'vault' });
/** Two pods' service-account tokens, as the kubelet hands them over; Vault's role "pods" trusts only the first. */
const POD_TOKEN = serviceAccountToken('team-a', 'puller', 'vault');
const OTHER_POD_TOKEN = serviceAccountToken('team-b', 'puller', 'vault');
const JOB_APP = { clientId: '7d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60', assertions: [JOB_TOKEN] };
const WORKLOAD_PROVIDER =
  '//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/ci/providers/runner';
const VAULT_TOKEN = 'hvs.vault-root-token-CANARY';
const OP_TOKEN = 'ops_service-account-CANARY';
const VALUES = {
  plain: 'aws-plain-CANARY-1001',
  field: 'aws-field-CANARY-1002',
  rotatedOld: 'aws-rotation-CANARY-old',
  rotatedNew: 'aws-rotation-CANARY-new',
  google: 'google-CANARY-2001',
  azure: 'azure-CANARY-3001',
  vault: 'vault-CANARY-4001',
  vaultJob: 'vault-job-CANARY-4002',
  vaultPod: 'vault-pod-CANARY-4003',
  op: 'op-CANARY-5001',
  command: 'command-CANARY-6001',
};

const fixtures = makeTempDir('secret-sources-fixtures');
let session: Keyring;
let moto: Moto;
let metadata: MetadataServer;
let sts: StsServer;
let entra: Entra;
let registry: Registry;
let env: Record<string, string | undefined>;
const servers: Array<{ close: (done: () => void) => void }> = [];
const seen = {
  google: [] as string[],
  azure: [] as string[],
  azureApps: [] as string[],
  vault: [] as string[],
  vaultLogins: [] as string[],
};
let vaultSealed = false;
let jobTokenFile: string;

/** An HTTP stand-in on loopback; its base URL. */
async function serve(handler: (request: IncomingMessage, body: string, response: ServerResponse) => void) {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => handler(request, body, response));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${port}`;
}
const json = (response: ServerResponse, status: number, body: unknown) =>
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/** moto's Secrets Manager, through boto3 (moto's own dependency). */
function aws(script: string): void {
  execFileSync(
    'python3',
    [
      '-c',
      `import boto3\nc = boto3.client("secretsmanager", endpoint_url="${moto.endpoint}", region_name="us-east-1", aws_access_key_id="AKIDSECRETS000000001", aws_secret_access_key="x")\n${script}`,
    ],
    { stdio: 'ignore' },
  );
}

beforeAll(async () => {
  const certificates = makeTestCertificates(fixtures.path);
  [session, moto, metadata, sts, registry] = await Promise.all([
    startKeyring(),
    startMoto(),
    startMetadataServer(),
    startStsServer(),
    startRegistry('hub-user', VALUES.plain),
  ]);
  entra = await startEntra(certificates, TENANT, [APP, JOB_APP], new Map());
  aws(
    [
      `c.create_secret(Name="ci/plain", SecretString="${VALUES.plain}")`,
      `c.create_secret(Name="ci/json", SecretString='{"token": "${VALUES.field}", "user": "robot"}')`,
      `c.create_secret(Name="ci/rotating", SecretString="${VALUES.rotatedOld}")`,
    ].join('\n'),
  );
  const google = await serve((request, _body, response) => {
    seen.google.push(`${request.method} ${request.url} ${request.headers.authorization}`);
    if (!/^Bearer ya29\.(?:metadata|federated)-\d+$/.test(request.headers.authorization ?? ''))
      return json(response, 401, { error: { message: 'Request had invalid authentication credentials.' } });
    if (request.method === 'GET' && request.url === '/v1/projects/p/secrets/hub/versions/latest:access')
      return json(response, 200, {
        name: 'projects/p/secrets/hub/versions/1',
        payload: { data: Buffer.from(VALUES.google).toString('base64') },
      });
    return json(response, 404, {
      error: { message: 'Secret [projects/p/secrets/none] not found or has no versions.' },
    });
  });
  const keyVault = await serve((request, _body, response) => {
    seen.azure.push(`${request.method} ${request.url}`);
    const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
    let audience: unknown;
    try {
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
      audience = claims.aud;
      seen.azureApps.push(String(claims.appid));
    } catch {
      audience = undefined;
    }
    if (audience !== 'https://vault.azure.net') return json(response, 401, { error: { message: 'Unauthorized' } });
    if (request.url === '/secrets/hub-token?api-version=7.4')
      return json(response, 200, { value: VALUES.azure, id: 'x' });
    return json(response, 404, {
      error: { code: 'SecretNotFound', message: 'A secret with (name/id) none was not found in this key vault.' },
    });
  });
  const jobToken = JOB_TOKEN;
  const vault = await serve((request, body, response) => {
    if (vaultSealed) return json(response, 503, { errors: ['Vault is sealed'] });
    if (request.method === 'POST' && request.url === '/v1/auth/jwt/login') {
      const login = JSON.parse(body) as { role?: string; jwt?: string };
      seen.vaultLogins.push(login.role ?? '');
      if (login.role === 'ci' && login.jwt === jobToken)
        return json(response, 200, { auth: { client_token: 'hvs.job-token' } });
      if (login.role === 'pods' && login.jwt === POD_TOKEN)
        return json(response, 200, { auth: { client_token: 'hvs.pod-token' } });
      return json(response, 400, { errors: ['role "ci" could not be logged in: claim "sub" does not match'] });
    }
    seen.vault.push(`${request.method} ${request.url} ${request.headers['x-vault-token']}`);
    const token = request.headers['x-vault-token'];
    const values: Record<string, string> = {
      [VAULT_TOKEN]: VALUES.vault,
      'hvs.job-token': VALUES.vaultJob,
      'hvs.pod-token': VALUES.vaultPod,
    };
    if (typeof token !== 'string' || values[token] === undefined)
      return json(response, 403, { errors: ['permission denied'] });
    if (request.url === '/v1/secret/data/ci/hub')
      return json(response, 200, { data: { data: { token: values[token] }, metadata: {} } });
    return json(response, 404, { errors: [] });
  });
  const tokenFile = join(session.root, 'job-token');
  jobTokenFile = tokenFile;
  writeFileSync(tokenFile, jobToken, { mode: 0o600 });
  // An `op` on PATH that answers as the 1Password CLI does, signed in only with the service-account token.
  // Outside the session's directories, which the test scans for values: these stand-ins hold them.
  const bin = join(fixtures.path, 'secret-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'op'),
    `#!/bin/sh\nif [ "$OP_SERVICE_ACCOUNT_TOKEN" != "${OP_TOKEN}" ]; then echo "[ERROR] 2026/12/07 You are not currently signed in." >&2; exit 1; fi\nif [ "$1 $2 $3" = "read --no-newline op://ci/hub/token" ]; then printf %s "${VALUES.op}"; exit 0; fi\necho "[ERROR] could not read secret" >&2; exit 1\n`,
  );
  writeFileSync(join(bin, 'secret-command'), `#!/bin/sh\necho "${VALUES.command}"\n`);
  chmodSync(join(bin, 'op'), 0o755);
  chmodSync(join(bin, 'secret-command'), 0o755);

  const route = (name: string) => ({ provider: 'static', username: `user-${name}`, password: `$${name}` });
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      [registry.host]: { provider: 'static', username: 'hub-user', password: '$HUB_PLAIN' },
      'json.example': route('HUB_JSON'),
      'rotating.example': route('HUB_ROTATING'),
      'missing.example': route('HUB_MISSING'),
      'role.example': route('HUB_ROLE'),
      'google.example': route('HUB_GOOGLE'),
      'azure.example': route('HUB_AZURE'),
      'azure-job.example': route('HUB_AZURE_JOB'),
      'google-job.example': route('HUB_GOOGLE_JOB'),
      'vault.example': route('HUB_VAULT'),
      'vault-job.example': route('HUB_VAULT_JOB'),
      'op.example': route('HUB_OP'),
      'pod.example': route('HUB_VAULT_POD'),
      'command.example': route('HUB_COMMAND'),
    },
    secrets: {
      HUB_PLAIN: { from: 'aws-secretsmanager', id: 'ci/plain', region: 'us-east-1' },
      HUB_JSON: { from: 'aws-secretsmanager', id: 'ci/json', key: 'token', region: 'us-east-1' },
      HUB_ROTATING: { from: 'aws-secretsmanager', id: 'ci/rotating', region: 'us-east-1', ttlSeconds: 2 },
      HUB_MISSING: { from: 'aws-secretsmanager', id: 'ci/none', region: 'us-east-1' },
      HUB_ROLE: {
        from: 'aws-secretsmanager',
        id: 'ci/plain',
        region: 'us-east-1',
        roleArn: 'arn:aws:iam::123456789012:role/secrets-reader',
      },
      HUB_GOOGLE: { from: 'gcp-secretmanager', name: 'projects/p/secrets/hub/versions/latest', endpoint: google },
      HUB_AZURE: { from: 'azure-keyvault', vault: keyVault, name: 'hub-token', instanceDiscovery: false },
      HUB_AZURE_JOB: {
        from: 'azure-keyvault',
        vault: keyVault,
        name: 'hub-token',
        instanceDiscovery: false,
        tenantId: TENANT,
        clientId: JOB_APP.clientId,
        jobIdentity: { source: 'file', path: tokenFile },
      },
      HUB_GOOGLE_JOB: {
        from: 'gcp-secretmanager',
        name: 'projects/p/secrets/hub/versions/latest',
        endpoint: google,
        workloadIdentityProvider: WORKLOAD_PROVIDER,
        stsEndpoint: sts.tokenUrl.replace(/\/v1\/token$/, ''),
        jobIdentity: { source: 'file', path: tokenFile },
      },
      HUB_VAULT: { from: 'vault', address: vault, path: 'ci/hub', key: 'token' },
      HUB_VAULT_JOB: {
        from: 'vault',
        address: vault,
        path: 'ci/hub',
        key: 'token',
        role: 'ci',
        jobIdentity: { source: 'file', path: tokenFile },
      },
      HUB_VAULT_POD: { from: 'vault', address: vault, path: 'ci/hub', key: 'token', role: 'pods', podIdentity: true },
      HUB_OP: { from: '1password', reference: 'op://ci/hub/token' },
      HUB_COMMAND: { from: 'command', command: [join(bin, 'secret-command')] },
    },
  });
  env = {
    ...session.env,
    CREDRELAY_LOG_LEVEL: 'debug',
    PATH: `${bin}:${pathWithCredrelay()}`,
    AWS_ACCESS_KEY_ID: 'AKIDSECRETS000000001',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
    AWS_ENDPOINT_URL_STS: moto.endpoint,
    GCE_METADATA_HOST: metadata.host,
    GOOGLE_APPLICATION_CREDENTIALS: undefined,
    NODE_EXTRA_CA_CERTS: certificates.caPath,
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: APP.clientId,
    AZURE_CLIENT_SECRET: APP.clientSecret,
    AZURE_AUTHORITY_HOST: entra.authorityHost,
    VAULT_TOKEN,
    OP_SERVICE_ACCOUNT_TOKEN: OP_TOKEN,
  };
}, 120_000);
afterAll(async () => {
  await stopCredrelayDaemon(session?.runtimeDir);
  await session?.stop();
  await Promise.all([moto?.stop(), metadata?.stop(), sts?.stop(), entra?.stop(), registry?.stop()]);
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  fixtures.remove();
});

const modes = [
  ['through the daemon', {}],
  ['in-process', { CREDRELAY_NO_DAEMON: '1' }],
] as const;
const secretOf = async (host: string, extra: Record<string, string | undefined>) => {
  const result = await runHelper('get', host, { ...env, ...extra });
  expect(result.code, result.stdout + result.stderr).toBe(0);
  return JSON.parse(result.stdout).Secret as string;
};

describe.each(modes)('secrets from their sources, %s', (_mode, extra) => {
  it.each([
    ['json.example', VALUES.field, 'AWS Secrets Manager, a field of a JSON secret'],
    ['role.example', VALUES.plain, 'AWS Secrets Manager through an assumed role'],
    ['google.example', VALUES.google, 'Google Secret Manager'],
    ['azure.example', VALUES.azure, 'Azure Key Vault'],
    ['vault.example', VALUES.vault, 'Vault KV v2 with a token'],
    ['vault-job.example', VALUES.vaultJob, 'Vault KV v2 with a JWT login as the CI job'],
    ['google-job.example', VALUES.google, 'Google Secret Manager as the CI job (workload identity federation)'],
    ['azure-job.example', VALUES.azure, 'Azure Key Vault as the CI job (a federated client assertion)'],
    ['op.example', VALUES.op, '1Password through op'],
    ['command.example', VALUES.command, 'a command'],
  ])('%s: %s (%s)', async (host, value) => {
    expect(await secretOf(host, extra)).toBe(value);
  });

  it('skopeo pushes to an htpasswd registry with a password that lives only in AWS Secrets Manager', async () => {
    const { pushed, inspected } = await pushAndInspect(
      registry.host,
      session.root,
      { ...env, ...extra } as Record<string, string>,
      `secrets-${_mode.length}:1`,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(inspected.code, inspected.stderr).toBe(0);
  });

  it("kubelet mode resolves the same references with the node's identity", async () => {
    const request = JSON.stringify({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderRequest',
      image: 'json.example/team/app:1',
    });
    const result = await runHelper('kubelet', request, { ...env, ...extra });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).auth).toEqual({
      'json.example': { username: 'user-HUB_JSON', password: VALUES.field },
    });
  });

  it("kubelet mode reads a podIdentity secret as the pod, and never hands one pod's value to another", async () => {
    const pull = (token: string) =>
      runHelper(
        'kubelet',
        JSON.stringify({
          apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
          kind: 'CredentialProviderRequest',
          image: 'pod.example/team/app:1',
          serviceAccountToken: token,
          serviceAccountAnnotations: {},
        }),
        { ...env, ...extra },
      );
    const first = await pull(POD_TOKEN);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).auth).toEqual({
      'pod.example': { username: 'user-HUB_VAULT_POD', password: VALUES.vaultPod },
    });
    // Another pod on the node, right after: Vault's role does not trust its token, so it gets no credential.
    const other = await pull(OTHER_POD_TOKEN);
    expect(other.code).not.toBe(0);
    expect(other.stdout + other.stderr).not.toContain(VALUES.vaultPod);
    expect(other.stderr).toMatch(/secret HUB_VAULT_POD \(Vault secret\/ci\/hub\): the JWT login .* was refused/);
    // Docker's protocol has no pod: the binding says so, never another identity's value.
    const docker = await runHelper('get', 'pod.example', { ...env, ...extra });
    expect(docker.code).toBe(1);
    expect(docker.stdout).toMatch(/^secret HUB_VAULT_POD is read as the pod the kubelet pulls for \("podIdentity"\)/);
  });

  it('what goes wrong is said: a missing secret, no signed-in op, a sealed Vault; never not-found', async () => {
    const missing = await runHelper('get', 'missing.example', { ...env, ...extra });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(
      /^secret HUB_MISSING \(AWS Secrets Manager ci\/none\): it does not exist in us-east-1: check "id" and "region"/,
    );
    const op = await runHelper('get', 'op.example', { ...env, ...extra, OP_SERVICE_ACCOUNT_TOKEN: undefined });
    expect(op.stdout).toMatch(/op is not signed in; set OP_SERVICE_ACCOUNT_TOKEN/);
    vaultSealed = true;
    try {
      const sealed = await runHelper('get', 'vault.example', {
        ...env,
        ...extra,
        AWS_REGION: `sealed-${_mode.length}`,
      });
      expect(sealed.stdout).toMatch(/secret HUB_VAULT \(Vault secret\/ci\/hub\): Vault is sealed/);
    } finally {
      vaultSealed = false;
    }
  });
});

describe('memory, rotation, and where each secret comes from', () => {
  it('a rotation is seen once ttlSeconds have passed, without restarting anything', async () => {
    expect(await secretOf('rotating.example', {})).toBe(VALUES.rotatedOld);
    aws(`c.put_secret_value(SecretId="ci/rotating", SecretString="${VALUES.rotatedNew}")`);
    const rotatedAt = Date.now();
    // Kept in the daemon's memory for its 2 seconds, then fetched again.
    expect(await secretOf('rotating.example', {})).toBe(VALUES.rotatedOld);
    await waitFor('the value to be fetched again', async () => Date.now() - rotatedAt > 2_100);
    expect(await secretOf('rotating.example', {})).toBe(VALUES.rotatedNew);
    expect(await secretOf('rotating.example', { CREDRELAY_NO_DAEMON: '1' })).toBe(VALUES.rotatedNew);
  });

  it('a value read as one CI job is never handed to the next job on the runner', async () => {
    // Through one daemon (same environment): the first job's value is kept for its ttlSeconds (300 by default).
    const first = readFileSync(jobTokenFile, 'utf8');
    expect(await secretOf('vault-job.example', {})).toBe(VALUES.vaultJob);
    const logins = seen.vaultLogins.length;
    writeFileSync(jobTokenFile, unsignedJwt({ sub: 'repo:acme/other:ref:refs/heads/main', aud: 'vault' }));
    try {
      const next = await runHelper('get', 'vault-job.example', env);
      expect(next.code, next.stdout).toBe(1);
      expect(next.stdout).toMatch(
        /^secret HUB_VAULT_JOB \(Vault secret\/ci\/hub\): the JWT login to auth\/jwt as role ci was refused/,
      );
      expect(seen.vaultLogins.length).toBe(logins + 1);
    } finally {
      writeFileSync(jobTokenFile, first);
    }
    // The first job again: its kept value, without logging in again.
    expect(await secretOf('vault-job.example', {})).toBe(VALUES.vaultJob);
    expect(seen.vaultLogins.length).toBe(logins + 1);
  });

  it('as the CI job, Google and Azure were asked with the identity its token was exchanged for', () => {
    // The two job routes above, in both modes: Google's STS saw the job's own token under the configured provider,
    // Secret Manager the federated token, Key Vault a token of the app registration that trusts the job.
    expect(
      sts.exchanges.some(
        (exchange) => exchange.get('subject_token') === JOB_TOKEN && exchange.get('audience') === WORKLOAD_PROVIDER,
      ),
    ).toBe(true);
    expect(seen.google.join('\n')).toMatch(/:access Bearer ya29\.federated-\d+/);
    expect(seen.azureApps).toContain(JOB_APP.clientId);
  });

  it('route, doctor and secrets list say where each comes from, never the value', async () => {
    const route = await run(CLI, ['route', 'json.example'], { env });
    expect(route.stdout).toMatch(/^secret +HUB_JSON: AWS Secrets Manager ci\/json, field token$/m);
    const listed = await run(CLI, ['secrets', 'list'], { env });
    expect(listed.stdout).toMatch(/^HUB_GOOGLE +Google Secret Manager projects\/p\/secrets\/hub\/versions\/latest$/m);
    expect(listed.stdout).toMatch(/^HUB_OP +1Password op:\/\/ci\/hub\/token$/m);
    const doctor = await run(CLI, ['doctor'], { env });
    expect(doctor.stdout).toMatch(/^✓ secret HUB_PLAIN +AWS Secrets Manager ci\/plain: readable$/m);
    expect(doctor.stdout).toMatch(/^✗ secret HUB_MISSING +.*it does not exist/m);
    for (const value of Object.values(VALUES))
      expect(route.stdout + listed.stdout + doctor.stdout).not.toContain(value);
  });

  it('no value reaches any file or the debug log', () => {
    const log = readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');
    expect(log.length).toBeGreaterThan(0);
    for (const value of [...Object.values(VALUES), VAULT_TOKEN, OP_TOKEN]) {
      expect(log).not.toContain(value);
      expect(filesContaining(session.root, value)).toEqual([]);
    }
    expect(seen.google.length).toBeGreaterThan(0);
    expect(seen.vaultLogins).toContain('ci');
  });
});
