import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { explainAwsError } from './aws-errors.js';
import { parseEcrHost } from './ecr-host.js';
import { createEcrProvider } from './index.js';
import { ECR_DEADLINE_MS, type EcrTokenRequest, decodeToken, fetchEcrToken } from './token-source.js';

const ACCOUNT = '123456789012';

const REAL_HOSTS: Array<[string, { region: string; fips?: boolean; dualStack?: boolean }]> = [
  [`${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`, { region: 'us-east-1' }],
  [`https://${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/v2/`, { region: 'us-east-1' }],
  [`${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com:443`, { region: 'us-east-1' }],
  [`HTTPS://${ACCOUNT}.DKR.ECR.EU-WEST-3.AMAZONAWS.COM`, { region: 'eu-west-3' }],
  [`${ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com`, { region: 'us-gov-west-1', fips: true }],
  [`${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`, { region: 'cn-north-1' }],
  [`${ACCOUNT}.dkr.ecr.eusc-de-east-1.amazonaws.eu`, { region: 'eusc-de-east-1' }],
  [`${ACCOUNT}.dkr-ecr.us-west-2.on.aws`, { region: 'us-west-2', dualStack: true }],
  [`${ACCOUNT}.dkr-ecr-fips.us-east-1.on.aws`, { region: 'us-east-1', fips: true, dualStack: true }],
  [`${ACCOUNT}.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn`, { region: 'cn-northwest-1', dualStack: true }],
  [`${ACCOUNT}.dkr.ecr.us-iso-east-1.c2s.ic.gov`, { region: 'us-iso-east-1' }],
  [`${ACCOUNT}.dkr.ecr.us-isob-east-1.sc2s.sgov.gov`, { region: 'us-isob-east-1' }],
  [`${ACCOUNT}.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk`, { region: 'eu-isoe-west-1' }],
  [`${ACCOUNT}.dkr.ecr.us-isof-south-1.csp.hci.ic.gov`, { region: 'us-isof-south-1' }],
  [`${ACCOUNT}.dkr.ecr.ap-southeast-5.amazonaws.com`, { region: 'ap-southeast-5' }],
];

const H = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
/** Server strings that must never reach ECR: each either fails to parse or is refused by the matcher. */
export const ECR_SPOOFS = [
  `${H}.attacker.example`,
  `https://${H}@attacker.example`,
  `${H}@attacker.example`,
  `attacker.example/${H}`,
  `https://attacker.example/${H}`,
  `${H}attacker.example`,
  `${H}.`,
  `ftp://${H}`,
  `oci://${H}`,
  ` ${H} x`,
  `${H} `,
  `${H}:5000`,
  `${H}:8443`,
  `${H}:80`,
  `12345678901.dkr.ecr.us-east-1.amazonaws.com`,
  `1234567890123.dkr.ecr.us-east-1.amazonaws.com`,
  `abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com`,
  `x${H}`,
  `evil.${H}`,
  `${ACCOUNT}dkr.ecr.us-east-1.amazonaws.com`,
  `${ACCOUNT}.dkrxecr.us-east-1.amazonaws.com`,
  `${ACCOUNT}.dkr.ecrx.us-east-1.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr-fipsx.us-east-1.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr..amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.useast1.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.us_east_1.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.-us-east-1.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.us-east-1amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.us-east-1.evil.amazonaws.com`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.co`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.org`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.comm`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonawscom`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.cn.attacker.example`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.localhost`,
  `${ACCOUNT}.dkr.ecr.us-east-1.on.aws.attacker.example`,
  `${ACCOUNT}.dkr.ecr.us-east-1.on.aws.cn`,
  `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.eu.attacker.example`,
  `${ACCOUNT}.dkr.ecr.us-east-1.c2s.ic.gov.evil`,
  `${ACCOUNT}.dkr.ecr.us-east-1.sc2s.sgov.gov.attacker`,
  `${H}%2eattacker.example`,
  `${H}\\@attacker.example`,
  `${H}?x=.attacker.example`,
  `${H}#.attacker.example`,
  `${H}\u0000.attacker.example`,
  `${ACCOUNT}.dkr.ecr.us-east-1.\u0430mazonaws.com`,
  `${H}\u202e`,
  `.dkr.ecr.us-east-1.amazonaws.com`,
  'public.ecr.aws.attacker.example',
  'public.ecr.aws:5000',
  'xpublic.ecr.aws',
  'public-ecr.aws',
  'ecr.aws',
  'public.ecr.aws@attacker.example',
  'attacker.example/public.ecr.aws',
  'localhost',
  '127.0.0.1:5000',
  '[::1]',
  'registry.example',
];

describe('parseEcrHost', () => {
  it.each(REAL_HOSTS)('%s', (host, expected) => {
    expect(parseEcrHost(parseRegistry(host))).toEqual({
      kind: 'private',
      accountId: ACCOUNT,
      fips: false,
      dualStack: false,
      ...expected,
    });
  });

  it('recognises ECR Public', () => {
    expect(parseEcrHost(parseRegistry('https://public.ecr.aws'))).toEqual({ kind: 'public' });
  });

  it(`refuses ${ECR_SPOOFS.length} spoofed forms`, () => {
    expect(ECR_SPOOFS.length).toBeGreaterThanOrEqual(50);
    for (const spoof of ECR_SPOOFS) {
      let identity;
      try {
        identity = parseRegistry(spoof);
      } catch {
        continue; // refused before any matcher sees it
      }
      expect(parseEcrHost(identity), spoof).toBeUndefined();
    }
  });
});

const fakeToken = async (request: EcrTokenRequest) => ({
  username: 'AWS',
  secret: `token-for-${request.accountId ?? 'public'}-${request.region}`,
  expiresAt: new Date(Date.now() + 12 * 3600_000),
});

runProviderContract('ecr', {
  create: () => createEcrProvider({ fetchToken: fakeToken }),
  ownHosts: [...REAL_HOSTS.map(([host]) => host), 'public.ecr.aws'],
  spoofedHosts: ECR_SPOOFS,
  answers: { host: H },
  fails: {
    host: H,
    podIdentity: {
      token: 'pod-token',
      namespace: 'team-a',
      serviceAccount: 'puller',
      annotations: { 'eks.amazonaws.com/ecr-role-arn': 'not-an-arn' },
    },
    outcome: /has a eks\.amazonaws\.com\/ecr-role-arn annotation that is not an IAM role ARN/,
  },
});

describe('ecr provider requests', () => {
  const requested: EcrTokenRequest[] = [];
  const provider = createEcrProvider({
    fetchToken: async (request) => {
      requested.push(request);
      return fakeToken(request);
    },
  });

  it("as a pod: the annotated role (or the route's), a session named for the service account, never the node's profile", async () => {
    const pod = {
      token: 'pod-token',
      annotations: { 'eks.amazonaws.com/ecr-role-arn': `arn:aws:iam::${ACCOUNT}:role/team-a` },
      namespace: 'team-a',
      serviceAccount: 'puller',
    };
    const podIdentity = provider.podIdentity!;
    expect(podIdentity.annotations({})).toEqual(['eks.amazonaws.com/ecr-role-arn', 'eks.amazonaws.com/role-arn']);
    expect(podIdentity.annotations({ roleArnAnnotation: 'corp.example/pull-role' })).toEqual([
      'corp.example/pull-role',
    ]);
    expect(podIdentity.uses(pod, {})).toBe(true);
    expect(podIdentity.uses({ ...pod, annotations: {} }, {})).toBe(false);
    expect(podIdentity.uses({ ...pod, annotations: {} }, { roleArn: `arn:aws:iam::${ACCOUNT}:role/route` })).toBe(true);
    await provider.get(parseRegistry(H), { ...testContext({ profile: 'prod' }), podIdentity: pod });
    expect(requested.at(-1)).toMatchObject({
      roleArn: `arn:aws:iam::${ACCOUNT}:role/team-a`,
      profile: undefined,
      webIdentity: { token: 'pod-token', sessionName: 'team-a.puller', pod: 'team-a/puller' },
    });
    // IRSA's annotation, which most EKS service accounts carry, when the pull-specific one is not there; with both,
    // the pull-specific one.
    const irsa = `arn:aws:iam::${ACCOUNT}:role/irsa`;
    await provider.get(parseRegistry(H), {
      ...testContext(),
      podIdentity: { ...pod, annotations: { 'eks.amazonaws.com/role-arn': irsa } },
    });
    expect(requested.at(-1)).toMatchObject({ roleArn: irsa });
    await provider.get(parseRegistry(H), {
      ...testContext(),
      podIdentity: { ...pod, annotations: { ...pod.annotations, 'eks.amazonaws.com/role-arn': irsa } },
    });
    expect(requested.at(-1)).toMatchObject({ roleArn: `arn:aws:iam::${ACCOUNT}:role/team-a` });
    // A route's own annotation replaces both.
    expect(
      podIdentity.uses(
        { ...pod, annotations: { 'eks.amazonaws.com/role-arn': irsa } },
        { roleArnAnnotation: 'corp.example/pull-role' },
      ),
    ).toBe(false);
    const bad = { ...pod, annotations: { 'eks.amazonaws.com/ecr-role-arn': 'not-an-arn' } };
    await expect(provider.get(parseRegistry(H), { ...testContext(), podIdentity: bad })).rejects.toThrow(
      /service account team-a\/puller has a eks\.amazonaws\.com\/ecr-role-arn annotation that is not an IAM role ARN/,
    );
  });

  it('takes account, region, FIPS and dual-stack from the host', async () => {
    await provider.get(parseRegistry(`${ACCOUNT}.dkr-ecr-fips.us-east-1.on.aws`), testContext());
    expect(requested.at(-1)).toMatchObject({
      kind: 'private',
      accountId: ACCOUNT,
      region: 'us-east-1',
      fips: true,
      dualStack: true,
    });
  });

  it('uses registryId and region for a custom domain, with profile and role options', async () => {
    const options = {
      registryId: '210987654321',
      region: 'eu-west-1',
      profile: 'prod',
      roleArn: 'arn:aws:iam::210987654321:role/pull',
      externalId: 'ext-1',
      sessionName: 'ci',
    };
    await provider.get(parseRegistry('registry.corp.example'), testContext(options));
    expect(requested.at(-1)).toMatchObject({
      kind: 'private',
      accountId: '210987654321',
      region: 'eu-west-1',
      profile: 'prod',
      roleArn: options.roleArn,
      externalId: 'ext-1',
      sessionName: 'ci',
      registry: 'registry.corp.example',
    });
  });

  it('refuses to guess an account for a non-ECR host without registryId', async () => {
    await expect(provider.get(parseRegistry('registry.corp.example'), testContext())).rejects.toThrowError(
      /give its registries entry "registryId"/,
    );
  });

  it('keys the cache by profile, role and target', () => {
    expect(provider.cachePolicy?.identity?.({ profile: 'a' })).not.toBe(
      provider.cachePolicy?.identity?.({ profile: 'b' }),
    );
    expect(provider.cachePolicy?.identity?.({ roleArn: 'x' })).not.toBe(provider.cachePolicy?.identity?.({}));
    expect(provider.cachePolicy?.identity?.({ profile: 'prod', region: 'eu-west-1' })).toBe(
      'profile=prod region=eu-west-1',
    );
  });
});

describe('explainAwsError: never "not found", always the cause and the fix', () => {
  const attempt = { registry: H, region: 'us-east-1', profile: 'dev' };
  const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), { name, ...extra });
  it.each([
    [
      named('CredentialsProviderError', 'Could not load credentials from any providers'),
      /no AWS credentials found for AWS profile "dev" .*aws configure/,
    ],
    [
      named(
        'CredentialsProviderError',
        'The SSO session associated with this profile has expired or is otherwise invalid',
      ),
      /SSO session has expired .*aws sso login --profile dev/,
    ],
    [
      named('ExpiredTokenException', 'The security token included in the request is expired'),
      /session of AWS profile "dev" has expired/,
    ],
    [
      named('AccessDeniedException', 'User is not authorized to perform ecr:GetAuthorizationToken'),
      /AWS denied the request \(AccessDeniedException\): .*ecr:GetAuthorizationToken/,
    ],
    [
      named('UnrecognizedClientException', 'The security token included in the request is invalid'),
      /AWS rejected the credentials .*aws sts get-caller-identity/,
    ],
    [named('ThrottlingException', 'Rate exceeded'), /throttling token requests/],
    [
      named('Error', 'connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }),
      /cannot reach the ECR endpoint for us-east-1 \(ECONNREFUSED\)/,
    ],
    [named('TimeoutError', 'Connection timed out after 3000 ms'), /cannot reach the ECR endpoint/],
    [
      named('ServerException', 'boom', { $metadata: { httpStatusCode: 500 } }),
      /the AWS request failed \(ServerException, HTTP 500\): boom/,
    ],
  ])('%s', (error, message) => {
    const explained = explainAwsError(error, attempt);
    expect(explained.code).toBe('PROVIDER_FAILED');
    expect(explained.message).toMatch(new RegExp(`^ECR credentials for ${H.replaceAll('.', '\\.')}: `));
    expect(explained.message).toMatch(message);
    expect(explained.message).not.toMatch(/not found/);
  });
});

describe('the AWS SDK, driven through a capturing request handler', () => {
  /** Answers GetAuthorizationToken like ECR does, remembering the request the SDK built. */
  function capturingHandler(seen: Array<{ hostname: string; headers: Record<string, string>; body: string }>) {
    return {
      handle: async (request: { hostname: string; headers: Record<string, string>; body?: string }) => {
        seen.push({ hostname: request.hostname, headers: request.headers, body: String(request.body ?? '') });
        const payload = JSON.stringify({
          authorizationData: [
            { authorizationToken: Buffer.from('AWS:sdk-secret').toString('base64'), expiresAt: 1_900_000_000 },
          ],
        });
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.1' },
            body: Readable.from([Buffer.from(payload)]),
          },
        };
      },
    };
  }
  const overrides = (seen: Parameters<typeof capturingHandler>[0]) => ({
    requestHandler: capturingHandler(seen),
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-key' },
  });
  const base = { kind: 'private' as const, accountId: ACCOUNT, registry: H };

  it.each([
    [{ region: 'eu-central-1', fips: false, dualStack: false }, 'api.ecr.eu-central-1.amazonaws.com'],
    [{ region: 'us-east-1', fips: true, dualStack: false }, 'api.ecr-fips.us-east-1.amazonaws.com'],
    [{ region: 'us-west-2', fips: false, dualStack: true }, 'ecr.us-west-2.api.aws'],
    [{ region: 'cn-north-1', fips: false, dualStack: false }, 'api.ecr.cn-north-1.amazonaws.com.cn'],
  ])('%j signs for the region and calls %s', async (target, hostname) => {
    const seen: Parameters<typeof capturingHandler>[0] = [];
    const previous = process.env.AWS_ENDPOINT_URL_ECR;
    delete process.env.AWS_ENDPOINT_URL_ECR;
    try {
      const credential = await fetchEcrToken({ ...base, ...target }, 5000, overrides(seen));
      expect(credential).toEqual({ username: 'AWS', secret: 'sdk-secret', expiresAt: new Date(1_900_000_000_000) });
    } finally {
      if (previous !== undefined) process.env.AWS_ENDPOINT_URL_ECR = previous;
    }
    expect(seen[0]!.hostname).toBe(hostname);
    expect(seen[0]!.headers.authorization).toMatch(
      new RegExp(`Credential=AKIDEXAMPLE/\\d{8}/${target.region}/ecr/aws4_request`),
    );
    expect(JSON.parse(seen[0]!.body)).toEqual({ registryIds: [ACCOUNT] });
  });

  it('uses a configured endpoint as it is, even for FIPS and dual-stack hosts', async () => {
    const seen: Parameters<typeof capturingHandler>[0] = [];
    const previous = process.env.AWS_ENDPOINT_URL_ECR;
    process.env.AWS_ENDPOINT_URL_ECR = 'http://127.0.0.1:4566';
    try {
      await fetchEcrToken({ ...base, region: 'us-east-1', fips: true, dualStack: true }, 5000, overrides(seen));
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_ECR;
      else process.env.AWS_ENDPOINT_URL_ECR = previous;
    }
    expect(`${seen[0]!.hostname}`).toBe('127.0.0.1');
  });

  it('ends a token exchange that never answers at the 20 s deadline (fake timers: no real wait)', async () => {
    vi.useFakeTimers();
    try {
      const hanging = { handle: () => new Promise<never>(() => undefined) };
      const exchange = fetchEcrToken({ ...base, region: 'us-east-1', fips: false, dualStack: false }, ECR_DEADLINE_MS, {
        requestHandler: hanging,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-key' },
      });
      const outcome = exchange.then(
        () => 'answered',
        (error: Error) => error.message,
      );
      await vi.advanceTimersByTimeAsync(ECR_DEADLINE_MS - 1);
      expect(await Promise.race([outcome, Promise.resolve('still waiting')])).toBe('still waiting');
      await vi.advanceTimersByTimeAsync(1);
      expect(await outcome).toMatch(/no answer from AWS within 20 s; check the network, or AWS_ENDPOINT_URL_ECR/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('decodes tokens and refuses unreadable ones', () => {
    expect(decodeToken(Buffer.from('AWS:a:b').toString('base64'), undefined)).toEqual({
      username: 'AWS',
      secret: 'a:b',
    });
    expect(() => decodeToken(Buffer.from('nocolon').toString('base64'), undefined)).toThrowError(/cannot read/);
    expect(() => decodeToken(undefined, undefined)).toThrowError(/cannot read/);
  });
});
