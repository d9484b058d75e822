import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { capturingTransport } from '../../test/support/google-transport.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { isGoogleRegistry } from './gar-host.js';
import { explainGoogleError } from './google-errors.js';
import { createGarProvider } from './index.js';
import { type GoogleTokenRequest, mintGoogleToken, parseServiceAccountKey } from './token-source.js';

const REAL_HOSTS = [
  'gcr.io',
  'https://gcr.io/v2/',
  'us.gcr.io',
  'eu.gcr.io',
  'asia.gcr.io',
  'marketplace.gcr.io',
  'mirror.gcr.io',
  'GCR.IO',
  'gcr.io:443',
  'us-docker.pkg.dev',
  'europe-docker.pkg.dev',
  'europe-west4-docker.pkg.dev',
  'us-central1-docker.pkg.dev',
  'northamerica-northeast2-docker.pkg.dev',
  'me-central2-docker.pkg.dev',
  'https://asia-southeast1-docker.pkg.dev/project/repo',
  'docker.us-central1.rep.pkg.dev',
  'docker.europe-west1.rep.pkg.dev',
];

export const GOOGLE_SPOOFS = [
  'gcr.io.attacker.example',
  'evilgcr.io',
  'gcr.iox',
  'gcr.io.',
  'xgcr.io.attacker.example',
  'us.gcr.io.attacker.example',
  'a.b.gcr.io',
  'gcr.io:5000',
  'us.gcr.io:8443',
  'https://gcr.io@attacker.example',
  'gcr.io@attacker.example',
  'attacker.example/gcr.io',
  'https://attacker.example/us-docker.pkg.dev',
  'ftp://gcr.io',
  'gcr.io attacker.example',
  'gcr.io%2eattacker.example',
  'gcr.io\\@attacker.example',
  'gcr.io?.attacker.example',
  'gcr.io#.attacker.example',
  'gcr.io\u0000',
  'gcr.\u0456o',
  'gcr-io.attacker.example',
  'gcrio',
  'gcr.com',
  'gcr.io.cn',
  'us-docker.pkg.dev.attacker.example',
  'us-docker.pkg.devattacker.example',
  'us-docker.pkg.dev:5000',
  'us-docker.pkg.dev.',
  'docker.pkg.dev',
  '-docker.pkg.dev',
  'us-dockerx.pkg.dev',
  'us-docker.pkgx.dev',
  'us-docker.pkg.de',
  'us-docker.pkg.dev.cn',
  'us.docker.pkg.dev',
  'evil.us-docker.pkg.dev',
  'us-docker-pkg.dev',
  'pkg.dev',
  'us_docker.pkg.dev',
  'us-docker.pkg.dev@attacker.example',
  'attacker.example/us-docker.pkg.dev',
  'docker.us-central1.rep.pkg.dev.attacker.example',
  'docker.rep.pkg.dev',
  'docker.us-central1.rep.pkg.devx',
  'evil.docker.us-central1.rep.pkg.dev',
  'dockerx.us-central1.rep.pkg.dev',
  'docker.us-central1.repx.pkg.dev',
  'docker.us-central1.rep.pkg.dev:5000',
  'docker.a.b.rep.pkg.dev',
  'artifactregistry.googleapis.com',
  'pkg.dev.attacker.example',
  'registry.example',
  'localhost:5000',
  'docker.io',
];

describe('Google registry hosts', () => {
  it.each(REAL_HOSTS)('%s is Google', (host) => {
    expect(isGoogleRegistry(parseRegistry(host))).toBe(true);
  });
  it(`refuses ${GOOGLE_SPOOFS.length} spoofed forms`, () => {
    expect(GOOGLE_SPOOFS.length).toBeGreaterThanOrEqual(50);
    for (const spoof of GOOGLE_SPOOFS) {
      let identity;
      try {
        identity = parseRegistry(spoof);
      } catch {
        continue;
      }
      expect(isGoogleRegistry(identity), spoof).toBe(false);
    }
  });
});

const fakeMint = async (request: GoogleTokenRequest) => ({
  username: 'oauth2accesstoken',
  secret: `ya29.${request.source.kind}`,
  expiresAt: new Date(Date.now() + 3600_000),
});

runProviderContract('gar', {
  create: () => createGarProvider({ mintToken: fakeMint }),
  ownHosts: REAL_HOSTS,
  spoofedHosts: GOOGLE_SPOOFS,
  answers: { host: 'us-docker.pkg.dev' },
  fails: {
    host: 'us-docker.pkg.dev',
    podIdentity: {
      token: 'pod-token',
      namespace: 'team-a',
      serviceAccount: 'puller',
      annotations: { 'iam.gke.io/gcp-service-account': 'not-an-email' },
    },
    outcome: /annotation that is not a service-account email/,
  },
});

/** A real service-account key, made here: its private half signs, its public half verifies. */
function makeKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = {
    type: 'service_account' as const,
    project_id: 'credrelay-test',
    private_key_id: 'key-1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'puller@credrelay-test.iam.gserviceaccount.com',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  return { key, publicKey };
}

describe('service-account keys', () => {
  const { key } = makeKey();
  it('are read as JSON or as base64 JSON (the _json_key_base64 form)', () => {
    expect(parseServiceAccountKey(JSON.stringify(key), 'K').client_email).toBe(key.client_email);
    expect(parseServiceAccountKey(Buffer.from(JSON.stringify(key)).toString('base64'), 'K').client_email).toBe(
      key.client_email,
    );
  });
  it.each(['not a key', '{"type":"authorized_user"}', Buffer.from('{"type":"service_account"}').toString('base64')])(
    'refuses %j without quoting it',
    (value) => {
      expect(() => parseServiceAccountKey(value, 'GOOGLE_KEY')).toThrowError(
        expect.objectContaining({
          code: 'SECRET_INVALID',
          message: expect.stringMatching(/^secret GOOGLE_KEY does not hold a Google service-account key/),
        }),
      );
      try {
        parseServiceAccountKey(value, 'GOOGLE_KEY');
      } catch (error) {
        expect((error as Error).message).not.toContain(value);
      }
    },
  );

  it('mint a token by signing a JWT with the key; the request verifies with the public half', async () => {
    const { key: signingKey, publicKey } = makeKey();
    const { transporter, requests } = capturingTransport(() => ({
      access_token: 'ya29.minted',
      expires_in: 3599,
      token_type: 'Bearer',
    }));
    const started = Date.now();
    const credential = await mintGoogleToken(
      { source: { kind: 'key', secretName: 'K', key: signingKey }, registry: 'us-docker.pkg.dev' },
      { transporter },
    );
    expect(credential.username).toBe('oauth2accesstoken');
    expect(credential.secret).toBe('ya29.minted');
    expect(credential.expiresAt!.getTime() - started).toBeGreaterThan(3500_000);

    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('https://oauth2.googleapis.com/token');
    expect(new URLSearchParams(requests[0]!.body).get('grant_type')).toBe(
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    );
    const [header, payload, signature] = new URLSearchParams(requests[0]!.body).get('assertion')!.split('.') as [
      string,
      string,
      string,
    ];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'RS256' });
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: signingKey.client_email,
      aud: 'https://oauth2.googleapis.com/token',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
    });
    expect(
      verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url')),
    ).toBe(true);
    expect(
      verify('RSA-SHA256', Buffer.from(`${header}.${payload}x`), publicKey, Buffer.from(signature, 'base64url')),
    ).toBe(false);
  });
});

describe('impersonation', () => {
  it('exchanges the source token for the target service account through generateAccessToken', async () => {
    const { key } = makeKey();
    const expireTime = new Date(Date.now() + 3600_000).toISOString();
    const { transporter, requests } = capturingTransport((url) =>
      url.includes('generateAccessToken')
        ? { accessToken: 'ya29.impersonated', expireTime }
        : { access_token: 'ya29.source', expires_in: 3599, token_type: 'Bearer' },
    );
    const target = 'puller@other-project.iam.gserviceaccount.com';
    const credential = await mintGoogleToken(
      { source: { kind: 'key', secretName: 'K', key }, impersonate: target, registry: 'gcr.io' },
      { transporter },
    );
    expect(credential).toEqual({
      username: 'oauth2accesstoken',
      secret: 'ya29.impersonated',
      expiresAt: new Date(expireTime),
    });
    const call = requests.find((request) => request.url.includes('generateAccessToken'))!;
    expect(call.url).toBe(
      `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${target}:generateAccessToken`,
    );
    expect(call.authorization).toBe('Bearer ya29.source');
    expect(JSON.parse(call.body)).toMatchObject({
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
      lifetime: '3600s',
    });
  });
});

describe('gar provider', () => {
  it('mints from a keySecret through the secret resolver, and names a missing secret', async () => {
    const requests: GoogleTokenRequest[] = [];
    const provider = createGarProvider({ mintToken: async (request) => (requests.push(request), fakeMint(request)) });
    const { key } = makeKey();
    await provider.get(
      parseRegistry('gcr.io'),
      testContext({ keySecret: 'GOOGLE_AR_KEY' }, { GOOGLE_AR_KEY: JSON.stringify(key) }),
    );
    expect(requests[0]!.source).toMatchObject({
      kind: 'key',
      secretName: 'GOOGLE_AR_KEY',
      key: { client_email: key.client_email },
    });
    await expect(provider.get(parseRegistry('gcr.io'), testContext({ keySecret: 'ABSENT' }))).rejects.toThrowError(
      /secret ABSENT is not set/,
    );
  });

  it('as a pod: its token under the workload identity provider, impersonating the annotated service account', async () => {
    const requests: GoogleTokenRequest[] = [];
    const provider = createGarProvider({ mintToken: async (request) => (requests.push(request), fakeMint(request)) });
    const wif = '//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool/providers/k8s';
    const pod = {
      token: 'pod-token',
      annotations: { 'iam.gke.io/gcp-service-account': 'pull@p.iam.gserviceaccount.com' },
      namespace: 'ns',
      serviceAccount: 'sa',
    };
    expect(provider.podIdentity!.uses(pod, {})).toBe(false); // no workload identity provider: the node answers
    expect(provider.podIdentity!.uses(pod, { workloadIdentityProvider: wif })).toBe(true);
    const options = {
      workloadIdentityProvider: wif,
      stsEndpoint: 'http://127.0.0.1:9/',
      impersonate: 'route@p.iam.gserviceaccount.com',
    };
    await provider.get(parseRegistry('gcr.io'), { ...testContext(options), podIdentity: pod });
    await provider.get(parseRegistry('gcr.io'), { ...testContext(options), podIdentity: { ...pod, annotations: {} } });
    expect(requests.map((request) => [request.source, request.impersonate])).toEqual([
      [
        {
          kind: 'pod',
          token: 'pod-token',
          serviceAccount: 'ns/sa',
          audience: wif,
          stsEndpoint: 'http://127.0.0.1:9',
          iamCredentialsEndpoint: 'https://iamcredentials.googleapis.com',
        },
        'pull@p.iam.gserviceaccount.com',
      ],
      [expect.objectContaining({ kind: 'pod' }), 'route@p.iam.gserviceaccount.com'],
    ]);
    const wifPattern = provider.routes!.options.workloadIdentityProvider!.pattern!;
    expect(wifPattern.test(wif)).toBe(true);
    expect(
      wifPattern.test(
        'identitynamespace:my-project.svc.id.goog:https://container.googleapis.com/v1/projects/my-project/locations/us-central1/clusters/prod',
      ),
    ).toBe(true);
    expect(wifPattern.test('//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/p')).toBe(false);
    const check = provider.routes!.check!;
    const exact = { kind: 'exact' as const, key: 'gcr.io', identity: parseRegistry('gcr.io') };
    expect(check(exact, { workloadIdentityProvider: wif, stsEndpoint: 'http://sts.example' })).toMatch(
      /may use plain HTTP only for this machine/,
    );
    expect(check(exact, { stsEndpoint: 'https://sts.example' })).toMatch(/give "workloadIdentityProvider" too/);
    expect(check(exact, { workloadIdentityProvider: wif, stsEndpoint: 'https://sts.p.example' })).toBeUndefined();
  });

  it('keeps one token per identity for every Google host, keyed by key and impersonation', () => {
    const provider = createGarProvider({ mintToken: fakeMint });
    expect(provider.cachePolicy?.sharedAcrossRegistries).toBe(true);
    expect(provider.cachePolicy?.identity?.({})).toBe('application default credentials');
    expect(provider.cachePolicy?.identity?.({ keySecret: 'K', impersonate: 'a@p.iam.gserviceaccount.com' })).toBe(
      'key in secret K as a@p.iam.gserviceaccount.com',
    );
  });
});

describe('explainGoogleError', () => {
  const what = { registry: 'gcr.io', source: 'Application Default Credentials' };
  it.each([
    [
      new Error(
        'Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.',
      ),
      /no Google credentials found \(tried GOOGLE_APPLICATION_CREDENTIALS, the gcloud ADC file .*metadata server\): run `gcloud auth application-default login`/,
    ],
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      /cannot reach Google's token service/,
    ],
    [
      Object.assign(new Error('invalid_grant: Invalid JWT Signature.'), {
        response: { status: 400, data: { error: 'invalid_grant' } },
      }),
      /Google refused .* \(invalid_grant\): the key may be deleted or disabled/,
    ],
  ])('%s', (error, message) => {
    const explained = explainGoogleError(error, what);
    expect(explained.message).toMatch(/^Google credentials for gcr\.io: /);
    expect(explained.message).toMatch(message);
  });
  it('names the missing role for a refused impersonation', () => {
    const error = Object.assign(new Error('Permission iam.serviceAccounts.getAccessToken denied'), {
      response: { status: 403 },
    });
    expect(explainGoogleError(error, { ...what, impersonate: 'sa@p.iam.gserviceaccount.com' }).message).toMatch(
      /impersonating sa@p\.iam\.gserviceaccount\.com was refused: .*roles\/iam\.serviceAccountTokenCreator/,
    );
  });
});
