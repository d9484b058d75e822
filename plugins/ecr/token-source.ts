import { type Credential, CredrelayError, ReusePool, withDeadline } from '../../src/plugin-api.js';
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
  /** A pod's service-account token, exchanged with STS AssumeRoleWithWebIdentity for `roleArn`. */
  readonly webIdentity?: { readonly token: string; readonly sessionName: string; readonly pod: string } | undefined;
}

/** A whole token exchange, retries included, never takes longer than this. */
export const ECR_DEADLINE_MS = 20_000;

const DEFAULT_SESSION_NAME = 'credrelay';

/**
 * Mints a token with the AWS SDK for JavaScript. The SDK is imported here, on first use, in the daemon. One client
 * serves each (endpoint, identity) and is reused across exchanges (see tokenClient); its credentials are resolved
 * afresh for every exchange, so the daemon sees a changed `~/.aws` or a new SSO session without a restart.
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
    pod: request.webIdentity?.pod,
  };
  // The SDK warns on stderr that future releases will need Node 22; a credential helper's stderr is not the place.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const exchange = async (): Promise<Credential> => {
    // A pod's credentials are its own: a client for this exchange only, never one of the pool's.
    if (Object.keys(clientOverrides).length > 0 || request.webIdentity !== undefined) {
      const client = await newTokenClient(request, clientOverrides);
      try {
        return await client.token(request.accountId);
      } finally {
        client.destroy();
      }
    }
    return (await tokenClient(request)).token(request.accountId);
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

/**
 * The AWS credentials a request signs with: the SDK's default chain (or a named profile), built afresh with
 * `ignoreCache` so that a changed ~/.aws is seen, optionally turned into an assumed role's through STS.
 */
async function awsCredentials(
  request: Pick<EcrTokenRequest, 'profile' | 'roleArn' | 'externalId' | 'sessionName' | 'region' | 'webIdentity'>,
) {
  const { fromNodeProviderChain, fromTemporaryCredentials, fromWebToken } =
    await import('@aws-sdk/credential-providers');
  if (request.webIdentity !== undefined && request.roleArn) {
    return fromWebToken({
      roleArn: request.roleArn,
      webIdentityToken: request.webIdentity.token,
      roleSessionName: request.webIdentity.sessionName,
      clientConfig: { region: request.region },
    });
  }
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
const configuredEndpoint = (kind: 'private' | 'public'): string | undefined =>
  (kind === 'public' ? process.env.AWS_ENDPOINT_URL_ECR_PUBLIC : process.env.AWS_ENDPOINT_URL_ECR) ||
  process.env.AWS_ENDPOINT_URL ||
  undefined;

/** An SDK client that mints ECR tokens for one endpoint and identity. */
interface TokenClient {
  token(accountId: string | undefined): Promise<Credential>;
  destroy(): void;
}

/** How many clients the daemon keeps: far above the (endpoint, identity) pairs of any configuration. */
const clients = new ReusePool<TokenClient>(32, (evicted) => evicted.destroy());

/**
 * The client for a request's endpoint and identity, reused across exchanges: an SDK client holds a middleware
 * stack, an HTTP agent and its endpoint rules, and building one per exchange grew the daemon's memory.
 */
function tokenClient(request: EcrTokenRequest): Promise<TokenClient> {
  const key = JSON.stringify([
    request.kind,
    request.region,
    request.fips,
    request.dualStack,
    configuredEndpoint(request.kind) ?? '',
    request.profile ?? process.env.AWS_PROFILE ?? '',
    request.roleArn ?? '',
    request.externalId ?? '',
    request.sessionName ?? '',
  ]);
  return clients.get(key, () => newTokenClient(request, {}));
}

async function newTokenClient(request: EcrTokenRequest, overrides: Record<string, unknown>): Promise<TokenClient> {
  // An endpoint the user configured (a VPC endpoint, a proxy, an emulator) is used as it is; the SDK refuses to
  // combine one with the FIPS or dual-stack variants that the host name asks for.
  const endpointVariants = configuredEndpoint(request.kind)
    ? {}
    : { useFipsEndpoint: request.fips, useDualstackEndpoint: request.dualStack };
  const config = {
    region: request.region,
    credentials: await reusableCredentials(request),
    ...endpointVariants,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 8000 },
    ...overrides,
  };
  if (request.kind === 'public') {
    const { ECRPUBLICClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr-public');
    const client = new ECRPUBLICClient({ ...config, region: ECR_PUBLIC_REGION });
    return {
      async token() {
        const output = await client.send(new GetAuthorizationTokenCommand({}));
        return decodeToken(output.authorizationData?.authorizationToken, output.authorizationData?.expiresAt);
      },
      destroy: () => client.destroy(),
    };
  }
  const { ECRClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
  const client = new ECRClient(config);
  return {
    async token(accountId) {
      const output = await client.send(new GetAuthorizationTokenCommand({ registryIds: [accountId!] }));
      const data = output.authorizationData?.[0];
      return decodeToken(data?.authorizationToken, data?.expiresAt);
    },
    destroy: () => client.destroy(),
  };
}

/** Ahead of this, the SDK treats credentials as expiring and resolves them again (its memo's refresh window). */
const RESOLVE_AGAIN_WITHIN_MS = 60_000;

/**
 * The credentials a reused client signs with. A client memoizes what its provider returns until it nears expiry; a
 * long-lived key from `~/.aws/credentials` has none, and would be kept for the life of the daemon. So credentials
 * from the chain are handed over as expiring within a minute: the client resolves them again, from a fresh chain,
 * on its next exchange. An assumed role's provider keeps its temporary credentials and refreshes them itself.
 */
async function reusableCredentials(request: EcrTokenRequest) {
  if (request.roleArn || request.webIdentity) return awsCredentials(request);
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return async () => {
    const resolved = await fromNodeProviderChain({
      ...(request.profile ? { profile: request.profile } : {}),
      ignoreCache: true,
    })();
    const soon = new Date(Date.now() + RESOLVE_AGAIN_WITHIN_MS);
    return { ...resolved, expiration: resolved.expiration && resolved.expiration < soon ? resolved.expiration : soon };
  };
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
