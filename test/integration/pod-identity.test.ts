/**
 * Kubelet mode with pod identity (KEP-4412): kubelet passes the pod's service-account token and annotations, and
 * credrelay pulls as that pod. ECR through moto's STS (AssumeRoleWithWebIdentity) and ECR, signed with the key STS
 * issued; Google through a local Security Token Service and IAM Credentials; Azure through Entra over HTTPS (client
 * assertion) and a registry front. Every request goes through the real helper binary, the daemon and in-process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsProxy } from '../support/aws-proxy.js';
import { ACR_USER, type FakeAcr } from '../support/azure-endpoints.js';
import type { IamCredentialsServer, StsServer } from '../support/google-endpoints.js';
import { HELPER, REPO_ROOT, run, runHelper } from '../support/helper.js';
import { serviceAccountToken } from '../support/jwt.js';
import { writeCredrelayConfig } from '../support/config.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type IdentityEndpoints, startIdentityEndpoints } from '../support/identity-endpoints.js';
import { type Registry, startRegistry } from '../support/registry.js';

const ACCOUNT = '123456789012';
const ECR_HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const REQUIRED_ECR_HOST = `210987654321.dkr.ecr.eu-west-1.amazonaws.com`;
const NODE_KEY = 'AKIDNODEIDENTITY0001';
const ROLE_A = `arn:aws:iam::${ACCOUNT}:role/team-a-pull`;
const ROLE_B = `arn:aws:iam::${ACCOUNT}:role/team-b-pull`;
const GAR_HOST = 'us-docker.pkg.dev';
const WIF = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/cluster/providers/k8s';
const TENANT = '3c1d2e3f-4a5b-4c7d-8e9f-a0b1c2d3e4f5';
const APP_A = '5a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d';
const APP_B = '6b2c3d4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e';

let cloud: IdentityEndpoints;
let proxy: AwsProxy;
let sts: StsServer;
let iam: IamCredentialsServer;
let acr: FakeAcr;
let backend: Registry;
let session: Keyring;
let env: Record<string, string>;
const tokens = {
  a: serviceAccountToken('team-a', 'puller', 'sts.amazonaws.com'),
  b: serviceAccountToken('team-b', 'puller', 'sts.amazonaws.com'),
  plain: serviceAccountToken('team-c', 'default', 'sts.amazonaws.com'),
};

beforeAll(async () => {
  [session, backend] = await Promise.all([startKeyring(), startRegistry('pod-backend', 'pod-backend-pass')]);
  cloud = await startIdentityEndpoints(session.root, backend, TENANT, [
    { clientId: APP_A, assertions: [tokens.a] },
    { clientId: APP_B, assertions: [tokens.b] },
  ]);
  ({ proxy, sts, iam, acr } = cloud);
  env = {
    ...session.env,
    CREDRELAY_LOG_LEVEL: 'debug',
    AWS_ACCESS_KEY_ID: NODE_KEY,
    AWS_SECRET_ACCESS_KEY: 'node-identity-secret',
    ...cloud.env,
  };
  proxy.behaviour.expiresInSeconds = 12 * 3600;
  proxy.behaviour.uniqueTokens = true;
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      [REQUIRED_ECR_HOST]: { provider: 'ecr', podIdentity: 'required' },
      [GAR_HOST]: {
        provider: 'gar',
        workloadIdentityProvider: WIF,
        stsEndpoint: sts.tokenUrl.replace(/\/v1\/token$/, ''),
        iamCredentialsEndpoint: iam.endpoint,
      },
      [acr.host]: { provider: 'acr', instanceDiscovery: false },
    },
  });
  // The daemon up before anything is counted: a cold start on a loaded machine may answer a first burst in-process.
  expect((await runHelper('list', '', env)).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await session?.stop();
  await Promise.all([cloud?.stop(), backend?.stop()]);
});

interface Pull {
  readonly image: string;
  readonly token?: string;
  readonly annotations?: Record<string, string>;
  readonly apiVersion?: string;
}
const kubelet = (pull: Pull, extra: Record<string, string> = {}) =>
  run(HELPER, ['kubelet'], {
    env: { ...env, ...extra },
    input: JSON.stringify({
      apiVersion: pull.apiVersion ?? 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderRequest',
      image: pull.image,
      ...(pull.token === undefined ? {} : { serviceAccountToken: pull.token }),
      ...(pull.annotations === undefined ? {} : { serviceAccountAnnotations: pull.annotations }),
    }),
  });
const authOf = (stdout: string, host: string) =>
  (JSON.parse(stdout) as { auth: Record<string, { username: string; password: string }> }).auth[host];
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'kubelet', name), 'utf8'));

describe('ECR as the pod: AssumeRoleWithWebIdentity, then GetAuthorizationToken with the temporary key', () => {
  it('exchanges the token for the annotated role, and ECR sees the key STS issued, not the node’s', async () => {
    const before = proxy.calls.length;
    const result = await kubelet({
      image: `${ECR_HOST}/team-a/api:1`,
      token: tokens.a,
      annotations: { 'eks.amazonaws.com/ecr-role-arn': ROLE_A },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(authOf(result.stdout, ECR_HOST)?.username).toBe('AWS');
    const calls = proxy.calls.slice(before);
    expect(calls.map((call) => call.action)).toEqual(['sts:AssumeRoleWithWebIdentity', 'ecr:GetAuthorizationToken']);
    const form = new URLSearchParams(calls[0]!.body);
    expect(form.get('RoleArn')).toBe(ROLE_A);
    expect(form.get('RoleSessionName')).toBe('team-a.puller');
    expect(form.get('WebIdentityToken')).toBe(tokens.a);
    expect(calls[1]!.accessKeyId).toBe(calls[0]!.issuedAccessKeyId);
    expect(calls[1]!.accessKeyId).not.toBe(NODE_KEY);
  });

  it("reads IRSA's eks.amazonaws.com/role-arn when a service account has no ecr-role-arn, and says how long kubelet may cache", async () => {
    const before = proxy.calls.length;
    const result = await kubelet({
      image: `444444444444.dkr.ecr.us-east-1.amazonaws.com/team-b/api:1`,
      token: tokens.b,
      annotations: { 'eks.amazonaws.com/role-arn': ROLE_B },
    });
    expect(result.code, result.stderr).toBe(0);
    const calls = proxy.calls.slice(before);
    expect(calls.map((call) => call.action)).toEqual(['sts:AssumeRoleWithWebIdentity', 'ecr:GetAuthorizationToken']);
    expect(new URLSearchParams(calls[0]!.body).get('RoleArn')).toBe(ROLE_B);
    // About half of what the token has left (ECR's are 12 hours), never past it: what cloud-provider-aws replies.
    const { cacheDuration } = JSON.parse(result.stdout) as { cacheDuration: string };
    const [, hours, minutes] = /^(\d+)h(\d+)m\d+s$/.exec(cacheDuration) ?? [];
    const seconds = Number(hours) * 3600 + Number(minutes) * 60;
    expect(seconds).toBeGreaterThan(5 * 3600);
    expect(seconds).toBeLessThanOrEqual(6 * 3600);
  });

  it('without a token, or with one but no role, pulls as the node, as before', async () => {
    for (const pull of [
      { image: `${ECR_HOST}/base:1` },
      // What kubelet 1.33+ sends without tokenAttributes: an empty token and null annotations.
      { image: `${ECR_HOST}/base:1`, token: '', annotations: null as unknown as Record<string, string> },
      { image: `${ECR_HOST}/base:1`, token: tokens.plain, annotations: {} },
      // v1beta1 has no pod identity: its token fields are not read.
      {
        image: `${ECR_HOST}/base:1`,
        token: tokens.a,
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1',
        annotations: { 'eks.amazonaws.com/ecr-role-arn': ROLE_A },
      },
    ]) {
      const before = proxy.calls.length;
      const result = await kubelet(pull, { CREDRELAY_NO_DAEMON: '1' });
      expect(result.code, JSON.stringify(pull.apiVersion)).toBe(0);
      expect(proxy.calls.slice(before).map((call) => [call.action, call.accessKeyId])).toEqual([
        ['ecr:GetAuthorizationToken', NODE_KEY],
      ]);
    }
  });

  it('two service accounts in parallel: each its own role and token, one exchange each', async () => {
    const before = proxy.calls.length;
    const pulls = [tokens.a, tokens.b].flatMap((token, index) =>
      Array.from({ length: 5 }, () => ({
        image: `333333333333.dkr.ecr.us-west-2.amazonaws.com/app:${index}`,
        token,
        annotations: { 'eks.amazonaws.com/ecr-role-arn': index === 0 ? ROLE_A : ROLE_B },
      })),
    );
    const results = await Promise.all(pulls.map((pull) => kubelet(pull)));
    const passwords = results.map(
      (result) => authOf(result.stdout, '333333333333.dkr.ecr.us-west-2.amazonaws.com')?.password,
    );
    expect(new Set(passwords.slice(0, 5)).size).toBe(1);
    expect(new Set(passwords.slice(5)).size).toBe(1);
    expect(passwords[0]).not.toBe(passwords[5]);
    const calls = proxy.calls.slice(before);
    const assumed = calls.filter((call) => call.action === 'sts:AssumeRoleWithWebIdentity');
    expect(assumed.map((call) => new URLSearchParams(call.body).get('RoleArn')).sort()).toEqual([ROLE_A, ROLE_B]);
    const minted = calls.filter((call) => call.action === 'ecr:GetAuthorizationToken');
    expect(minted.map((call) => call.accessKeyId).sort()).toEqual(assumed.map((call) => call.issuedAccessKeyId).sort());
  });

  it('a route with "podIdentity": "required" refuses to pull as the node, saying why; doctor does not check the node', async () => {
    const doctor = await run(join(REPO_ROOT, 'bin', 'credrelay'), ['doctor'], { env });
    expect(doctor.stdout).toMatch(
      /^✓ ecr for 210987654321\.dkr\.ecr\.eu-west-1\.amazonaws\.com +pulled only as the pod, in kubelet mode: checked on each pull with its token$/m,
    );
    const none = await kubelet({ image: `${REQUIRED_ECR_HOST}/app:1` });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /^credrelay: 210987654321\.dkr\.ecr\.eu-west-1\.amazonaws\.com is pulled only as the pod \(its registries entry says "podIdentity": "required"\), but no service-account token came with the request: give kubelet's CredentialProviderConfig "tokenAttributes"/,
    );
    const roleless = await kubelet({ image: `${REQUIRED_ECR_HOST}/app:1`, token: tokens.plain });
    expect(roleless.stderr).toMatch(
      /the ecr provider has no identity to act as for service account team-c\/default: annotate it with eks\.amazonaws\.com\/ecr-role-arn or eks\.amazonaws\.com\/role-arn, or name one in the route's options/,
    );
  });

  it('recorded kubelet requests, as kubelet sends them: a token and annotation; a spoofed image with a token', async () => {
    const recorded = fixture('ecr-v1-service-account.json');
    const before = proxy.calls.length;
    const result = await run(HELPER, ['kubelet'], { env, input: JSON.stringify(recorded) });
    expect(result.stderr).toBe('');
    expect(authOf(result.stdout, ECR_HOST)?.username).toBe('AWS');
    const calls = proxy.calls.slice(before);
    expect(calls.map((call) => call.action)).toEqual(['sts:AssumeRoleWithWebIdentity', 'ecr:GetAuthorizationToken']);
    expect(new URLSearchParams(calls[0]!.body).get('RoleSessionName')).toBe('team-a.api');
    const spoofed = await run(HELPER, ['kubelet'], {
      env,
      input: JSON.stringify(fixture('spoofed-ecr-v1-service-account.json')),
    });
    expect(spoofed).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(spoofed.stdout).auth).toEqual({});
    expect(proxy.calls.length).toBe(before + 2);
  });
});

describe('Google as the pod: Security Token Service, then impersonation', () => {
  it('a recorded request: the token exchanged under the provider, the annotated service account impersonated', async () => {
    const recorded = fixture('gar-v1-service-account-token.json');
    const [exchanges, impersonations] = [sts.exchanges.length, iam.calls.length];
    const result = await run(HELPER, ['kubelet'], { env, input: JSON.stringify(recorded) });
    expect(result.stderr).toBe('');
    expect(authOf(result.stdout, GAR_HOST)?.password).toMatch(
      /^ya29\.impersonated-worker@my-project\.iam\.gserviceaccount\.com-\d+$/,
    );
    expect(sts.exchanges.slice(exchanges).map((form) => form.get('subject_token'))).toEqual([
      recorded.serviceAccountToken,
    ]);
    expect(iam.calls.slice(impersonations).map((call) => call.serviceAccount)).toEqual([
      'worker@my-project.iam.gserviceaccount.com',
    ]);
  });

  it('exchanges the token under the workload identity provider and impersonates the annotated service account', async () => {
    const [exchanges, impersonations] = [sts.exchanges.length, iam.calls.length];
    const result = await kubelet({
      image: `${GAR_HOST}/project/repo/app:1`,
      token: tokens.a,
      annotations: { 'iam.gke.io/gcp-service-account': 'puller-a@project.iam.gserviceaccount.com' },
    });
    expect(result.stderr).toBe('');
    const auth = authOf(result.stdout, GAR_HOST);
    expect(auth?.username).toBe('oauth2accesstoken');
    expect(auth?.password).toMatch(/^ya29\.impersonated-puller-a@project\.iam\.gserviceaccount\.com-\d+$/);
    const exchange = sts.exchanges.slice(exchanges);
    expect(exchange).toHaveLength(1);
    expect(exchange[0]!.get('subject_token')).toBe(tokens.a);
    expect(exchange[0]!.get('subject_token_type')).toBe('urn:ietf:params:oauth:token-type:jwt');
    expect(exchange[0]!.get('audience')).toBe(WIF);
    const impersonation = iam.calls.slice(impersonations);
    expect(impersonation).toEqual([
      {
        serviceAccount: 'puller-a@project.iam.gserviceaccount.com',
        bearer: expect.stringMatching(/^ya29\.federated-\d+$/),
      },
    ]);
  });

  it('two service accounts in parallel get their own tokens, one exchange each; without an annotation, the federated token itself', async () => {
    const [exchanges, impersonations] = [sts.exchanges.length, iam.calls.length];
    const other = serviceAccountToken('team-d', 'builder', 'sts.amazonaws.com');
    const pulls = [
      ...Array.from({ length: 4 }, () => ({
        image: `${GAR_HOST}/p/r/a:1`,
        token: tokens.b,
        annotations: { 'iam.gke.io/gcp-service-account': 'puller-b@project.iam.gserviceaccount.com' },
      })),
      ...Array.from({ length: 4 }, () => ({ image: `${GAR_HOST}/p/r/b:1`, token: other, annotations: {} })),
    ];
    const results = await Promise.all(pulls.map((pull) => kubelet(pull)));
    const passwords = results.map((result) => authOf(result.stdout, GAR_HOST)?.password);
    expect(new Set(passwords.slice(0, 4)).size).toBe(1);
    expect(passwords[0]).toMatch(/^ya29\.impersonated-puller-b@/);
    expect(new Set(passwords.slice(4)).size).toBe(1);
    expect(passwords[4]).toMatch(/^ya29\.federated-\d+$/);
    expect(
      sts.exchanges
        .slice(exchanges)
        .map((form) => form.get('subject_token'))
        .sort(),
    ).toEqual([tokens.b, other].sort());
    expect(iam.calls.slice(impersonations).map((call) => call.serviceAccount)).toEqual([
      'puller-b@project.iam.gserviceaccount.com',
    ]);
  });
});

describe('Azure as the pod: its token as the client assertion of its workload identity', () => {
  it('two service accounts in parallel, each its own application: one Entra token and one exchange each', async () => {
    const exchanges = acr.exchanges();
    const pulls = [
      { token: tokens.a, client: APP_A },
      { token: tokens.b, client: APP_B },
    ].flatMap(({ token, client }) =>
      Array.from({ length: 3 }, () => ({
        image: `${acr.host}/team/app:1`,
        token,
        annotations: { 'azure.workload.identity/client-id': client, 'azure.workload.identity/tenant-id': TENANT },
      })),
    );
    const results = await Promise.all(pulls.map((pull) => kubelet(pull)));
    for (const result of results) expect(result.stderr).toBe('');
    const secrets = results.map((result) => authOf(result.stdout, acr.host));
    expect(secrets.every((auth) => auth?.username === ACR_USER)).toBe(true);
    expect(new Set(secrets.slice(0, 3).map((auth) => auth?.password)).size).toBe(1);
    expect(secrets[0]?.password).not.toBe(secrets[3]?.password);
    expect(acr.exchanges() - exchanges).toBe(2);
    expect([...cloud.issued.values()].map((who) => who.client).sort()).toEqual([APP_A, APP_B]);
  });

  it('a token Entra does not trust for the application: its refusal, explained', async () => {
    const result = await kubelet(
      {
        image: `${acr.host}/team/app:1`,
        token: tokens.plain,
        annotations: { 'azure.workload.identity/client-id': APP_A, 'azure.workload.identity/tenant-id': TENANT },
      },
      { CREDRELAY_NO_DAEMON: '1' },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `Microsoft Entra refused the workload identity ${APP_A} of service account team-c/default \\(its token as client assertion\\) \\(invalid_client: AADSTS700213`,
      ),
    );
  });
});

describe('pod identity, everywhere', () => {
  it('credrelay providers says which providers act as the pod, and the annotations they read', async () => {
    const listed = await run(join(REPO_ROOT, 'bin', 'credrelay'), ['providers'], { env });
    expect(listed.stdout).toMatch(
      /^ecr: [^]*?^ {2}pods {5}in kubelet mode, as the pod; annotations eks\.amazonaws\.com\/ecr-role-arn, eks\.amazonaws\.com\/role-arn$/m,
    );
    expect(listed.stdout).toMatch(
      /^ {2}pods {5}in kubelet mode, as the pod; annotations iam\.gke\.io\/gcp-service-account$/m,
    );
    expect(listed.stdout).toMatch(
      /^ {2}pods {5}in kubelet mode, as the pod; annotations azure\.workload\.identity\/client-id, azure\.workload\.identity\/tenant-id$/m,
    );
    // Docker Hub's exchange takes any OIDC token its connection trusts, a pod's too, and reads no annotation.
    expect(listed.stdout).toMatch(/^dockerhub: [^]*?^ {2}pods {5}in kubelet mode, as the pod; annotations none$/m);
    expect(listed.stdout.match(/^ {2}pods/gm)).toHaveLength(4);
  });

  it('the daemon and in-process answer alike', async () => {
    const pull = { image: `${GAR_HOST}/p/r/c:1`, token: tokens.a, annotations: {} };
    const [viaDaemon, inProcess] = [await kubelet(pull), await kubelet(pull, { CREDRELAY_NO_DAEMON: '1' })];
    const shape = (stdout: string) => {
      const response = JSON.parse(stdout);
      return { ...response, cacheDuration: typeof response.cacheDuration, auth: Object.keys(response.auth) };
    };
    expect(shape(inProcess.stdout)).toEqual(shape(viaDaemon.stdout));
    expect(authOf(inProcess.stdout, GAR_HOST)?.password).toMatch(/^ya29\.federated-\d+$/);
  });

  it('a malformed token or annotations are refused without quoting them', async () => {
    const bad = await kubelet({ image: `${ECR_HOST}/x:1`, token: 'not-a-jwt-secret-value' });
    expect(bad.stderr).toBe(
      'credrelay: the CredentialProviderRequest\'s "serviceAccountToken" is not a service-account token (a JWT of at most 16384 bytes)\n',
    );
    const badAnnotations = await kubelet({
      image: `${ECR_HOST}/x:1`,
      token: tokens.a,
      annotations: { 'eks.amazonaws.com/ecr-role-arn': 7 } as never,
    });
    expect(badAnnotations.stderr).toMatch(/"serviceAccountAnnotations" values must be strings/);
  });

  it('no token and no annotation value reaches the daemon log, at debug level', async () => {
    const log = readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');
    expect(log).toMatch(/"level":"debug"/);
    for (const secret of [
      ...Object.values(tokens),
      ROLE_A,
      ROLE_B,
      APP_A,
      APP_B,
      'puller-a@project.iam.gserviceaccount.com',
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
