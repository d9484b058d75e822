/**
 * Keyless CI: a job's own OIDC token becomes registry credentials, with no login step and no stored key. A fake
 * GitHub Actions token service (it checks the bearer and the audience) hands out short-lived JWTs; ECR through moto's
 * STS AssumeRoleWithWebIdentity, then GetAuthorizationToken signed with the key STS issued, in front of a real
 * registry skopeo pulls from; Google through a local STS and IAM Credentials; Azure through Entra's client assertion
 * and a registry front; Docker Hub through a fake of Docker's identity service (its OIDC connection exchange, as
 * docker/login-action makes it) in front of a real registry. Through the daemon and in-process alike.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsProxy } from '../support/aws-proxy.js';
import { ACR_USER, type FakeAcr } from '../support/azure-endpoints.js';
import { writeCredrelayConfig } from '../support/config.js';
import type { IamCredentialsServer, StsServer } from '../support/google-endpoints.js';
import { CLI, run, runHelper } from '../support/helper.js';
import { unsignedJwt } from '../support/jwt.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type IdentityEndpoints, startIdentityEndpoints } from '../support/identity-endpoints.js';
import { freePort } from '../support/ports.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const WIF = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/github/providers/actions';
const TENANT = '3c1d2e3f-4a5b-4c7d-8e9f-a0b1c2d3e4f5';
const APP = '7c3d4e5f-6a7b-4c9d-8e0f-2a3b4c5d6e7f';
const REQUEST_TOKEN = 'actions-request-token-CANARY-7731';
const GAR_HOST = 'us-docker.pkg.dev';
const DOCKER_CONNECTION = '0b7a3f2e-5c4d-4e6f-8a9b-1c2d3e4f5a6b';
const DOCKER_AUDIENCE = 'https://identity.docker.com';
const DOCKER_ACCESS_TOKEN = 'dckr_oat_job-CANARY-4410';

/**
 * Docker's identity service for one organization's OIDC connection: a form POST to /oauth/token whose subject is a
 * job token the Actions service issued for its audience; it answers the access token the registry accepts.
 */
async function startDockerIdentity(issued: readonly string[]) {
  const exchanges: URLSearchParams[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const form = new URLSearchParams(body);
      exchanges.push(form);
      const subject = form.get('subject_token') ?? '';
      const audience = issued.includes(subject)
        ? JSON.parse(Buffer.from(subject.split('.')[1]!, 'base64url').toString()).aud
        : undefined;
      const ok =
        request.url === '/oauth/token' &&
        form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:token-exchange' &&
        form.get('connection_id') === DOCKER_CONNECTION &&
        audience === DOCKER_AUDIENCE;
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      response.end(ok ? JSON.stringify({ access_token: DOCKER_ACCESS_TOKEN }) : '{"error":"access_denied"}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The fake Actions token service: what it issued, and how it behaves. */
interface ActionsTokenService {
  readonly url: string;
  readonly issued: string[];
  readonly audiences: string[];
  /** Seconds until the tokens it issues expire. */
  lifetimeSeconds: number;
  refuse: boolean;
  stop(): Promise<void>;
}

async function startActionsTokenService(): Promise<ActionsTokenService> {
  const port = await freePort();
  const service: ActionsTokenService = {
    url: `http://127.0.0.1:${port}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0`,
    issued: [],
    audiences: [],
    lifetimeSeconds: 300,
    refuse: false,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const audience = url.searchParams.get('audience') ?? '';
    if (request.headers.authorization !== `bearer ${REQUEST_TOKEN}` || service.refuse) {
      // As a proxy in front of it may: the request echoed back, its bearer and a token with it.
      const echoed = unsignedJwt({ sub: 'repo:credrelay/example:ref:refs/heads/main', aud: audience });
      response
        .writeHead(403, { 'content-type': 'text/plain' })
        .end(`not permitted: ${request.headers.authorization} asked for ${echoed}`);
      return;
    }
    service.audiences.push(audience);
    const now = Math.floor(Date.now() / 1000);
    const token = unsignedJwt({
      iss: 'https://token.actions.githubusercontent.com',
      sub: 'repo:credrelay/example:ref:refs/heads/main',
      aud: audience,
      repository: 'credrelay/example',
      run_id: '9123456789',
      iat: now,
      exp: now + service.lifetimeSeconds,
      jti: `${service.issued.length}`,
    });
    service.issued.push(token);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value: token }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return service;
}

let cloud: IdentityEndpoints;
let proxy: AwsProxy;
let actions: ActionsTokenService;
let sts: StsServer;
let iam: IamCredentialsServer;
let acr: FakeAcr;
let ecrRegistry: Registry;
let backend: Registry;
let dockerHub: Registry;
let dockerIdentity: Awaited<ReturnType<typeof startDockerIdentity>>;
let session: Keyring;
let job: Record<string, string>;

beforeAll(async () => {
  [session, ecrRegistry, backend, actions, dockerHub] = await Promise.all([
    startKeyring(),
    startRegistry('AWS', `${ACCOUNT}-auth-token`),
    startRegistry('job-backend', 'job-backend-pass'),
    startActionsTokenService(),
    startRegistry('octo-org', DOCKER_ACCESS_TOKEN),
  ]);
  dockerIdentity = await startDockerIdentity(actions.issued);
  // Entra trusts every token this job's service issues (the live list) as the app's client assertion.
  cloud = await startIdentityEndpoints(session.root, backend, TENANT, [{ clientId: APP, assertions: actions.issued }]);
  ({ proxy, sts, iam, acr } = cloud);
  proxy.behaviour.expiresInSeconds = 12 * 3600;
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      [ecrRegistry.host]: {
        provider: 'ecr',
        registryId: ACCOUNT,
        region: 'us-east-1',
        roleArn: ROLE,
        jobIdentity: { source: 'github-actions', audience: 'sts.amazonaws.com' },
      },
      [GAR_HOST]: {
        provider: 'gar',
        workloadIdentityProvider: WIF,
        impersonate: 'ci-puller@my-project.iam.gserviceaccount.com',
        stsEndpoint: sts.tokenUrl.replace(/\/v1\/token$/, ''),
        iamCredentialsEndpoint: iam.endpoint,
        jobIdentity: { source: 'github-actions', audience: 'https://iam.googleapis.com/projects/123456789' },
      },
      [acr.host]: {
        provider: 'acr',
        instanceDiscovery: false,
        tenantId: TENANT,
        clientId: APP,
        jobIdentity: { source: 'github-actions', audience: 'api://AzureADTokenExchange' },
      },
      // Docker Hub's own host cannot be reached here: a local registry stands for it, routed the same way.
      [dockerHub.host]: {
        provider: 'dockerhub',
        username: 'octo-org',
        connectionId: DOCKER_CONNECTION,
        identityUrl: dockerIdentity.url,
        jobIdentity: { source: 'github-actions', audience: DOCKER_AUDIENCE },
      },
    },
  });
  // A GitHub Actions job: its token request variables, and no cloud key anywhere.
  job = {
    ...session.env,
    CREDRELAY_LOG_LEVEL: 'debug',
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: 'credrelay/example',
    GITHUB_RUN_ID: '9123456789',
    ACTIONS_ID_TOKEN_REQUEST_URL: actions.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    ...cloud.env,
  };
}, 120_000);
afterAll(async () => {
  await session?.stop();
  await Promise.all([
    cloud?.stop(),
    actions?.stop(),
    ecrRegistry?.stop(),
    backend?.stop(),
    dockerHub?.stop(),
    dockerIdentity?.stop(),
  ]);
});
beforeEach(() => {
  actions.refuse = false;
  actions.lifetimeSeconds = 300;
});

const modes = [
  ['through the daemon', {}],
  ['in-process', { CREDRELAY_NO_DAEMON: '1' }],
] as const;

describe.each(modes)('ECR as the job, %s', (_mode, extra) => {
  it('asks the token service with the bearer and the audience, assumes the role with the token, and skopeo pushes and reads', async () => {
    const env = { ...job, ...extra };
    await runHelper('erase', ecrRegistry.host, env); // no cached token: this test counts from zero
    const [before, asked] = [proxy.calls.length, actions.issued.length];
    const { pushed, inspected } = await pushAndInspect(
      ecrRegistry.host,
      join(session.root),
      env,
      `job-${_mode.length}:1`,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(actions.audiences.at(-1)).toBe('sts.amazonaws.com');
    const calls = proxy.calls.slice(before);
    const assumed = calls.find((call) => call.action === 'sts:AssumeRoleWithWebIdentity');
    expect(assumed).toBeDefined();
    const form = new URLSearchParams(assumed!.body);
    expect(form.get('RoleArn')).toBe(ROLE);
    expect(form.get('RoleSessionName')).toBe('github.credrelay.example.9123456789');
    expect(actions.issued.slice(asked)).toContain(form.get('WebIdentityToken'));
    const ecr = calls.find((call) => call.action === 'ecr:GetAuthorizationToken');
    expect(ecr?.accessKeyId).toBe(assumed!.issuedAccessKeyId);
  });
});

describe.each(modes)('Docker Hub as the job, %s', (_mode, extra) => {
  it("exchanges the job's token at the identity service under the connection, and skopeo pushes and reads", async () => {
    const env = { ...job, ...extra };
    await runHelper('erase', dockerHub.host, env);
    const [before, asked] = [dockerIdentity.exchanges.length, actions.issued.length];
    const { pushed, inspected } = await pushAndInspect(dockerHub.host, session.root, env, `job-hub-${_mode.length}:1`);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(actions.audiences.at(-1)).toBe(DOCKER_AUDIENCE);
    const exchanges = dockerIdentity.exchanges.slice(before);
    expect(exchanges.length).toBeGreaterThan(0);
    for (const form of exchanges) {
      expect(actions.issued.slice(asked)).toContain(form.get('subject_token'));
      expect(form.get('subject_token_type')).toBe('urn:ietf:params:oauth:token-type:id_token');
      expect(form.get('expires_in')).toBe('3600'); // the longest the service grants: callers keep answers for minutes
    }
    const got = await runHelper('get', dockerHub.host, env);
    expect(JSON.parse(got.stdout)).toEqual({
      ServerURL: dockerHub.host,
      Username: 'octo-org',
      Secret: DOCKER_ACCESS_TOKEN,
    });
  });
});

describe('Google and Azure as the job', () => {
  it('Google: the job token at STS under the workload identity provider, then impersonation', async () => {
    const [exchanges, impersonations, asked] = [sts.exchanges.length, iam.calls.length, actions.issued.length];
    const result = await runHelper('get', GAR_HOST, { ...job, CREDRELAY_NO_DAEMON: '1' });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).Username).toBe('oauth2accesstoken');
    const exchange = sts.exchanges.slice(exchanges);
    expect(exchange.map((form) => form.get('subject_token'))).toEqual(actions.issued.slice(asked));
    expect(exchange[0]?.get('audience')).toBe(WIF);
    expect(iam.calls.slice(impersonations).map((call) => call.serviceAccount)).toEqual([
      'ci-puller@my-project.iam.gserviceaccount.com',
    ]);
  });

  it("Azure: the job token as the app's client assertion, and skopeo reads through the registry", async () => {
    const { pushed, inspected } = await pushAndInspect(acr.host, session.root, job, 'job-azure:1');
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect([...cloud.issued.values()].some((who) => who.client === APP && who.tenant === TENANT)).toBe(true);
    const got = await runHelper('get', acr.host, job);
    expect(JSON.parse(got.stdout).Username).toBe(ACR_USER);
  });
});

/**
 * A token file the platform rewrites for every job on an agent (Buildkite, GitLab runners, Jenkins): the next job's
 * token at the same path, with the previous job's daemon still running. Docker's identity service stands in for any
 * exchange: it mints one access token per subject, so an answer shows which job it was made for.
 */
describe.each(modes)('a job token file rewritten for every job, %s', (_mode, extra) => {
  const HOST = 'jobs.hub.example';
  let perJob: Awaited<ReturnType<typeof startPerSubjectIdentity>>;
  let env: Record<string, string>;
  const tokenPath = () => join(session.root, `job-token-${_mode.length}`);
  beforeAll(async () => {
    perJob = await startPerSubjectIdentity();
    const configHome = join(session.root, `config-job-file-${_mode.length}`);
    writeCredrelayConfig(configHome, {
      registries: {
        [HOST]: {
          provider: 'dockerhub',
          username: 'acme',
          connectionId: DOCKER_CONNECTION,
          identityUrl: perJob.url,
          jobIdentity: { source: 'file', path: tokenPath() },
        },
        'static.jobs.example': { provider: 'static', username: 'u', password: '$UNRELATED_PASS' },
      },
    });
    env = { ...session.env, XDG_CONFIG_HOME: configHome, UNRELATED_PASS: 'unrelated-pass', ...extra };
  });
  afterAll(() => perJob?.stop());

  // Buildkite- and GitLab-style subjects: the same first 64 characters and more, then the branch.
  const prefix = 'organization:acme:pipeline:deploy-production-images:ref:refs/heads/';
  const subject = (job: number) => `${prefix}${job === 0 ? 'main' : `fork-${job}`}:commit:0123456789abcdef:step:push`;

  for (const withExp of [true, false]) {
    it(`five jobs in turn, each answered as itself (${withExp ? 'with' : 'without'} exp)`, async () => {
      expect(subject(1).slice(0, 64)).toBe(subject(2).slice(0, 64));
      const now = Math.floor(Date.now() / 1000);
      for (let job = 0; job < 5; job += 1) {
        const claims = { iss: 'https://agent.example', sub: subject(job), aud: DOCKER_AUDIENCE, iat: now };
        writeFileSync(tokenPath(), unsignedJwt(withExp ? { ...claims, exp: now + 3600 } : claims), { mode: 0o600 });
        const got = await runHelper('get', HOST, env);
        expect(got.code, got.stdout + got.stderr).toBe(0);
        expect(JSON.parse(got.stdout).Secret).toBe(perJob.tokenFor(subject(job)));
      }
    });
  }

  it("refuses another user's token file and a FIFO at once, explained, while another route keeps answering", async () => {
    writeFileSync(tokenPath(), unsignedJwt({ sub: subject(9), aud: DOCKER_AUDIENCE }), { mode: 0o644 });
    chownSync(tokenPath(), 65534, 65534);
    const planted = await runHelper('get', HOST, env);
    expect(planted.code).toBe(1);
    expect(planted.stdout).toMatch(
      /the job token file .* is not used: .*job-token-\d+ belongs to uid 65534, not to you \(uid 0\) or root/,
    );
    rmSync(tokenPath());
    execFileSync('mkfifo', ['-m', '600', tokenPath()]);
    // More waiting requests than libuv has threads: none may hold one.
    const fifo = await Promise.all(Array.from({ length: 6 }, () => runHelper('get', HOST, env)));
    for (const result of fifo) {
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/the job token file .* is not used: it is not a regular file/);
    }
    const unrelated = await runHelper('get', 'static.jobs.example', env);
    expect(JSON.parse(unrelated.stdout).Secret).toBe('unrelated-pass');
    rmSync(tokenPath());
  });
});

/** An identity service that mints one access token per subject of the (unsigned) job token it is sent. */
async function startPerSubjectIdentity() {
  const tokenFor = (subject: string) => `dckr_oat_${createHash('sha256').update(subject).digest('hex').slice(0, 24)}`;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const claims = JSON.parse(
        Buffer.from((new URLSearchParams(body).get('subject_token') ?? '..').split('.')[1]!, 'base64url').toString() ||
          '{}',
      );
      const ok = claims.aud === DOCKER_AUDIENCE && typeof claims.sub === 'string';
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      response.end(ok ? JSON.stringify({ access_token: tokenFor(claims.sub) }) : '{"error":"access_denied"}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    tokenFor,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('what goes wrong, said', () => {
  it('no id-token permission: the fix is named', async () => {
    const result = await runHelper('get', ecrRegistry.host, {
      ...job,
      ACTIONS_ID_TOKEN_REQUEST_URL: undefined,
      CREDRELAY_NO_DAEMON: '1',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/ACTIONS_ID_TOKEN_REQUEST_URL is not set.*add `permissions: id-token: write`/);
  });

  it('the token service refuses: an explained error that quotes no token', async () => {
    actions.refuse = true;
    const result = await runHelper('get', ecrRegistry.host, { ...job, CREDRELAY_NO_DAEMON: '1' });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /the GitHub Actions token service refused the request for audience sts\.amazonaws\.com \(HTTP 403/,
    );
    expect(result.stdout + result.stderr).not.toContain(REQUEST_TOKEN);
    expect(result.stdout).not.toMatch(/eyJ/); // no token's header or claims
    expect(result.stdout).toMatch(/not permitted: bearer \[token\] asked for \[token\]/);
  });

  it('a token near its expiry is fetched again, a fresh one reused', async () => {
    // Each through a daemon of its own (another AWS_REGION, another environment), asking twice with the access
    // token dropped in between, so that the second get needs the job token again.
    const twice = async (env: Record<string, string | undefined>) => {
      await runHelper('erase', GAR_HOST, env);
      const before = actions.issued.length;
      expect((await runHelper('get', GAR_HOST, env)).code).toBe(0);
      await runHelper('erase', GAR_HOST, env); // drops the access token, not the job token
      expect((await runHelper('get', GAR_HOST, env)).code).toBe(0);
      return actions.issued.length - before;
    };
    actions.lifetimeSeconds = 30; // inside the renewal margin: not reused
    expect(await twice({ ...job, AWS_REGION: 'eu-west-1' })).toBe(2);
    actions.lifetimeSeconds = 300;
    expect(await twice({ ...job, AWS_REGION: 'eu-west-2' })).toBe(1);
  });

  it('route and doctor say which identity a route uses in this job', async () => {
    const route = await run(CLI, ['route', ecrRegistry.host], { env: job });
    expect(route.stdout).toMatch(
      /^identity +pulls as this CI job's OIDC token \(GitHub Actions, audience sts\.amazonaws\.com\); the token service is reachable from this job$/m,
    );
    const outside = await run(CLI, ['doctor'], { env: { ...job, ACTIONS_ID_TOKEN_REQUEST_URL: undefined } });
    expect(outside.stdout).toMatch(
      /^✗ ecr for .* +pulls as this CI job's OIDC token .*not available here: ACTIONS_ID_TOKEN_REQUEST_URL is not set/m,
    );
  });

  it("a job token for another audience is never sent to Docker's identity service: the fix is named, the token is not", async () => {
    const env = { ...job, CREDRELAY_NO_DAEMON: '1' };
    const config = JSON.parse(readFileSync(join(session.env.XDG_CONFIG_HOME!, 'credrelay', 'config.json'), 'utf8'));
    config.registries[dockerHub.host].jobIdentity.audience = 'sts.amazonaws.com';
    const wrong = join(session.root, 'config-wrong-audience');
    writeCredrelayConfig(wrong, config);
    const before = dockerIdentity.exchanges.length;
    const result = await runHelper('get', dockerHub.host, { ...env, XDG_CONFIG_HOME: wrong });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /the job's token is for audience "sts\.amazonaws\.com", not Docker's identity service; it was not sent: give the route's jobIdentity the audience https:\/\/identity\.docker\.com/,
    );
    expect(dockerIdentity.exchanges.length).toBe(before);
    for (const token of actions.issued) expect(result.stdout + result.stderr).not.toContain(token);
  });

  it('no job token or request token reaches the debug log', () => {
    const log = readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');
    expect(log.length).toBeGreaterThan(0);
    for (const token of actions.issued) expect(log).not.toContain(token.split('.')[1]!);
    expect(log).not.toContain(REQUEST_TOKEN);
    expect(log).not.toContain(DOCKER_ACCESS_TOKEN);
  });
});
