import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { createDockerHubProvider } from './index.js';

const CONNECTION = '0b7a3f2e-5c4d-4e6f-8a9b-1c2d3e4f5a6b';
const jobToken = (aud: unknown) =>
  `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ sub: 'repo:o/r:ref:refs/heads/main', aud })).toString('base64url')}.job-signature`;
const JOB_TOKEN = jobToken('https://identity.docker.com');
const job = { token: JOB_TOKEN, annotations: {}, namespace: 'github', serviceAccount: 'o.r.1' };

/** Docker's identity service as docker/login-action calls it: a form POST to /oauth/token. */
let server: Server;
let identityUrl: string;
const seen: URLSearchParams[] = [];
let refuse: number | undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const form = new URLSearchParams(body);
      seen.push(form);
      if (request.method !== 'POST' || request.url !== '/oauth/token') return response.writeHead(404).end();
      if (refuse !== undefined || form.get('connection_id') !== CONNECTION) {
        // An echo of the request: the job's token must not reach the message.
        response.writeHead(refuse ?? 401, { 'content-type': 'application/json' });
        return response.end(
          JSON.stringify({ error: 'access_denied', error_description: `subject ${form.get('subject_token')} refused` }),
        );
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ access_token: `dckr_oat_${seen.length}`, token_type: 'Bearer' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  identityUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const options = () => ({ username: 'octo-org', connectionId: CONNECTION, identityUrl });

runProviderContract('dockerhub', {
  create: createDockerHubProvider,
  ownHosts: [],
  spoofedHosts: ['docker.io', 'registry-1.docker.io', 'registry.example'],
  get answers() {
    return { host: 'docker.io', options: options(), podIdentity: job };
  },
  get fails() {
    return { host: 'docker.io', options: options(), outcome: /give the route "jobIdentity"/ };
  },
});

describe('dockerhub provider', () => {
  const provider = createDockerHubProvider();

  it("exchanges the job's token as docker/login-action does, and the access token is the user's password", async () => {
    const started = Date.now();
    const credential = await provider.get(parseRegistry('docker.io'), {
      ...testContext({ ...options(), expiresIn: 900 }),
      podIdentity: job,
    });
    expect(credential).toMatchObject({ username: 'octo-org', secret: expect.stringMatching(/^dckr_oat_\d+$/) });
    expect(credential!.expiresAt!.getTime()).toBeGreaterThanOrEqual(started + 900_000);
    expect(credential!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 900_000);
    expect(Object.fromEntries(seen.at(-1)!)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      subject_token: JOB_TOKEN,
      connection_id: CONNECTION,
      expires_in: '900',
    });
  });

  it('a refused token is an explained error that quotes the service, never the token', async () => {
    const other = { ...options(), connectionId: '11111111-2222-4333-8444-555555555555' };
    const failure = provider.get(parseRegistry('docker.io'), { ...testContext(other), podIdentity: job });
    await expect(failure).rejects.toThrowError(
      /refused the job's token for connection 11111111.*HTTP 401: access_denied/,
    );
    await expect(failure).rejects.toThrowError(/trusts this repository and branch/);
    await expect(failure).rejects.not.toThrowError(/job-signature/);
  });

  it('sends a job token only where it was minted for: an AWS token, or one without an audience, never leaves', async () => {
    for (const aud of ['sts.amazonaws.com', ['api://AzureADTokenExchange'], undefined]) {
      const before = seen.length;
      const failure = provider.get(parseRegistry('docker.io'), {
        ...testContext(options()),
        podIdentity: { ...job, token: jobToken(aud) },
      });
      await expect(failure).rejects.toThrowError(
        /is for (audience .*|no audience), not Docker's identity service; it was not sent: give the route's jobIdentity the audience https:\/\/identity\.docker\.com/,
      );
      expect(seen.length).toBe(before);
    }
    // A list that holds the identity service is the destination's.
    const credential = await provider.get(parseRegistry('docker.io'), {
      ...testContext(options()),
      podIdentity: { ...job, token: jobToken(['sts.amazonaws.com', 'https://identity.docker.com']) },
    });
    expect(credential?.secret).toMatch(/^dckr_oat_/);
  });

  it('a failing service is its own error, not a refusal', async () => {
    refuse = 503;
    try {
      await expect(
        provider.get(parseRegistry('docker.io'), { ...testContext(options()), podIdentity: job }),
      ).rejects.toThrowError(/answered HTTP 503: access_denied.*retry later/);
    } finally {
      refuse = undefined;
    }
  });

  it('checks its options when the configuration loads', () => {
    const pattern = { kind: 'exact', key: 'docker.io' } as never;
    expect(provider.routes!.check!(pattern, options())).toBeUndefined();
    expect(provider.routes!.check!(pattern, { ...options(), expiresIn: 30 })).toMatch(/"expiresIn" must be/);
    expect(provider.routes!.check!(pattern, { ...options(), identityUrl: 'http://identity.example' })).toMatch(
      /must be an https:\/\/ URL/,
    );
    expect(provider.routes!.options.connectionId!.pattern!.test('not-a-uuid')).toBe(false);
  });
});
