import { type Credential, CredrelayError, withDeadline } from '../../src/plugin-api.js';
import { type AwsAttempt, explainAwsError } from './aws-errors.js';
import { ECR_PUBLIC_REGION } from './ecr-host.js';

/** Everything needed to mint one ECR token. */
export interface EcrTokenRequest {
  readonly kind: 'private' | 'public';
  /** The 12-digit account whose registry the token opens (private only). */
  readonly accountId?: string;
  readonly region: string;
  readonly fips: boolean;
  readonly dualStack: boolean;
  readonly profile?: string | undefined;
  readonly roleArn?: string | undefined;
  readonly externalId?: string | undefined;
  readonly sessionName?: string | undefined;
  /** The registry key, for messages. */
  readonly registry: string;
}

/** A whole token exchange, retries included, never takes longer than this. */
export const ECR_DEADLINE_MS = 20_000;

const DEFAULT_SESSION_NAME = 'credrelay';

/**
 * Mints a token with the AWS SDK for JavaScript. The SDK is imported here, on first use, in the daemon. The
 * credential chain is built afresh for every exchange with `ignoreCache`, so the daemon sees a changed `~/.aws`
 * or a new SSO session without a restart; exchanges are rare (a token lasts 12 hours and is cached).
 */
export async function fetchEcrToken(
  request: EcrTokenRequest,
  deadlineMs = ECR_DEADLINE_MS,
  /** Merged into the SDK client configuration: tests pass a request handler and static credentials. */
  clientOverrides: Record<string, unknown> = {},
): Promise<Credential> {
  const attempt: AwsAttempt = {
    registry: request.registry,
    region: request.region,
    profile: request.profile,
    roleArn: request.roleArn,
  };
  // The SDK warns on stderr that future releases will need Node 22; a credential helper's stderr is not the place.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const exchange = async (): Promise<Credential> => {
    const credentials = await awsCredentials(request);
    // An endpoint the user configured (a VPC endpoint, a proxy, an emulator) is used as it is; the SDK refuses to
    // combine one with the FIPS or dual-stack variants that the host name asks for.
    const endpointVariants = configuredEndpoint(request.kind)
      ? {}
      : { useFipsEndpoint: request.fips, useDualstackEndpoint: request.dualStack };
    const clientConfig = {
      region: request.region,
      credentials,
      ...endpointVariants,
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 8000 },
      ...clientOverrides,
    };
    return request.kind === 'public' ? publicToken(clientConfig) : privateToken(clientConfig, request.accountId!);
  };
  try {
    return await withDeadline(
      exchange(),
      deadlineMs,
      () =>
        new CredrelayError(
          'PROVIDER_FAILED',
          `ECR credentials for ${request.registry}: no answer from AWS within ${deadlineMs / 1000} s; check the network, or AWS_ENDPOINT_URL_ECR`,
        ),
    );
  } catch (error) {
    throw explainAwsError(error, attempt);
  }
}

type ClientConfig = Record<string, unknown> & { region: string };

/**
 * The AWS credentials a request signs with: the SDK's default chain (or a named profile), built afresh with
 * `ignoreCache` so that a changed ~/.aws is seen, optionally turned into an assumed role's through STS.
 */
export async function awsCredentials(
  request: Pick<EcrTokenRequest, 'profile' | 'roleArn' | 'externalId' | 'sessionName' | 'region'>,
) {
  const { fromNodeProviderChain, fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
  const base = fromNodeProviderChain({ ...(request.profile ? { profile: request.profile } : {}), ignoreCache: true });
  if (!request.roleArn) return base;
  return fromTemporaryCredentials({
    masterCredentials: base,
    params: {
      RoleArn: request.roleArn,
      RoleSessionName: request.sessionName ?? DEFAULT_SESSION_NAME,
      ...(request.externalId ? { ExternalId: request.externalId } : {}),
    },
    clientConfig: { region: request.region },
  });
}

/** Who the credentials of a request are, by STS GetCallerIdentity: the identity `credrelay doctor` reports. */
export async function awsCallerIdentity(request: EcrTokenRequest, deadlineMs = ECR_DEADLINE_MS): Promise<string> {
  const attempt: AwsAttempt = {
    registry: request.registry,
    region: request.region,
    profile: request.profile,
    roleArn: request.roleArn,
  };
  const ask = async (): Promise<string> => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    const client = new STSClient({
      region: request.region,
      credentials: await awsCredentials(request),
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 8000 },
    });
    try {
      const identity = await client.send(new GetCallerIdentityCommand({}));
      return `AWS identity ${identity.Arn ?? 'unknown'} (account ${identity.Account ?? '?'})`;
    } finally {
      client.destroy();
    }
  };
  try {
    return await withDeadline(
      ask(),
      deadlineMs,
      () =>
        new CredrelayError('PROVIDER_FAILED', `AWS did not say who the credentials are within ${deadlineMs / 1000} s`),
    );
  } catch (error) {
    throw explainAwsError(error, attempt);
  }
}

/** The endpoint the AWS SDK takes from the environment for this service, if any. */
export const configuredEndpoint = (kind: 'private' | 'public'): string | undefined =>
  (kind === 'public' ? process.env.AWS_ENDPOINT_URL_ECR_PUBLIC : process.env.AWS_ENDPOINT_URL_ECR) ||
  process.env.AWS_ENDPOINT_URL ||
  undefined;

async function privateToken(config: ClientConfig, accountId: string): Promise<Credential> {
  const { ECRClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
  const client = new ECRClient(config);
  try {
    const output = await client.send(new GetAuthorizationTokenCommand({ registryIds: [accountId] }));
    const data = output.authorizationData?.[0];
    return decodeToken(data?.authorizationToken, data?.expiresAt);
  } finally {
    client.destroy();
  }
}

async function publicToken(config: ClientConfig): Promise<Credential> {
  const { ECRPUBLICClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr-public');
  const client = new ECRPUBLICClient({ ...config, region: ECR_PUBLIC_REGION });
  try {
    const output = await client.send(new GetAuthorizationTokenCommand({}));
    return decodeToken(output.authorizationData?.authorizationToken, output.authorizationData?.expiresAt);
  } finally {
    client.destroy();
  }
}

/** An ECR authorization token is base64 of `user:password`; the user is always `AWS`. */
export function decodeToken(token: string | undefined, expiresAt: Date | undefined): Credential {
  const decoded = token === undefined ? '' : Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0)
    throw new CredrelayError(
      'PROVIDER_FAILED',
      'AWS returned an authorization token credrelay cannot read (expected base64 of user:password)',
    );
  return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1), ...(expiresAt ? { expiresAt } : {}) };
}
