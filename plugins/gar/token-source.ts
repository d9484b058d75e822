import { type Credential, CredrelayError, withDeadline } from '../../src/plugin-api.js';
import { explainGoogleError } from './google-errors.js';

/** The scope registries accept: Artifact Registry and Container Registry both honour cloud-platform. */
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Registries take an OAuth2 access token as the password of this user. */
export const GOOGLE_TOKEN_USER = 'oauth2accesstoken';
const GOOGLE_DEADLINE_MS = 20_000;
/** The project google-auth-library is told it has, so that it never looks one up (see the GoogleAuth below). */
const NO_PROJECT_LOOKUP = 'credrelay-token-only';

/** A service-account key as Google issues it (the fields credrelay uses). */
interface ServiceAccountKey {
  readonly type: 'service_account';
  readonly client_email: string;
  readonly private_key: string;
  readonly [field: string]: unknown;
}

export interface GoogleTokenRequest {
  /** Application Default Credentials, or a service-account key kept as a named secret. */
  readonly source:
    | { readonly kind: 'adc' }
    | { readonly kind: 'key'; readonly secretName: string; readonly key: ServiceAccountKey }
    | PodSource;
  /** A service account to impersonate with the source's credentials. */
  readonly impersonate?: string | undefined;
  /** The registry key, for messages. */
  readonly registry: string;
}

/** A pod's service-account token, exchanged at Security Token Service under workload identity federation. */
interface PodSource {
  readonly kind: 'pod';
  readonly token: string;
  /** `namespace/name`, for messages. */
  readonly serviceAccount: string;
  /** The workload identity provider (or GKE identity namespace) the token is exchanged under: STS's audience. */
  readonly audience: string;
  readonly stsEndpoint: string;
  readonly iamCredentialsEndpoint: string;
}

export const GOOGLE_STS_ENDPOINT = 'https://sts.googleapis.com';
export const GOOGLE_IAM_CREDENTIALS_ENDPOINT = 'https://iamcredentials.googleapis.com';

export interface GoogleTokenOptions {
  readonly deadlineMs?: number;
  /** A gaxios instance for every HTTP call the library makes: tests receive the requests with it. */
  readonly transporter?: unknown;
}

/**
 * Parses a service-account key from a secret's value: the key's JSON, or base64 of it (the `_json_key_base64` form
 * registries accept). Errors never quote the value.
 */
export function parseServiceAccountKey(value: string, secretName: string): ServiceAccountKey {
  const trimmed = value.trim();
  let key: unknown;
  try {
    key = JSON.parse(trimmed.startsWith('{') ? trimmed : Buffer.from(trimmed, 'base64').toString('utf8'));
  } catch {
    key = undefined;
  }
  const candidate = key as Partial<ServiceAccountKey> | undefined;
  if (
    candidate?.type !== 'service_account' ||
    typeof candidate.client_email !== 'string' ||
    typeof candidate.private_key !== 'string'
  ) {
    throw new CredrelayError(
      'SECRET_INVALID',
      `secret ${secretName} does not hold a Google service-account key (its JSON, or base64 of it, with "type": "service_account"): store one with \`credrelay secrets set ${secretName} < key.json\``,
    );
  }
  return candidate as ServiceAccountKey;
}

/**
 * Mints a one-hour OAuth2 access token with google-auth-library, which is imported here on first use. Application
 * Default Credentials cover GOOGLE_APPLICATION_CREDENTIALS (keys and workload identity federation), the gcloud ADC
 * file and the metadata server (GCE_METADATA_HOST is honoured).
 */
export async function mintGoogleToken(
  request: GoogleTokenRequest,
  options: GoogleTokenOptions = {},
): Promise<Credential> {
  const deadlineMs = options.deadlineMs ?? GOOGLE_DEADLINE_MS;
  const source =
    request.source.kind === 'key'
      ? `the service-account key in secret ${request.source.secretName}`
      : request.source.kind === 'pod'
        ? `the token of service account ${request.source.serviceAccount}`
        : 'Application Default Credentials';
  const mint = async (): Promise<Credential> => {
    const { GoogleAuth, Impersonated, IdentityPoolClient } = await import('google-auth-library');
    const transport = options.transporter === undefined ? {} : { transporter: options.transporter as never };
    let client;
    if (request.source.kind === 'pod') {
      // Workload identity federation with the pod's token handed over directly, then (optionally) the service
      // account it may impersonate: google-auth-library's external-account client, with our two endpoints.
      const pod = request.source;
      client = new IdentityPoolClient({
        type: 'external_account',
        audience: pod.audience,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: `${pod.stsEndpoint}/v1/token`,
        ...(request.impersonate === undefined
          ? {}
          : {
              service_account_impersonation_url: `${pod.iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${encodeURIComponent(request.impersonate)}:generateAccessToken`,
            }),
        subject_token_supplier: { getSubjectToken: async () => pod.token },
        scopes: [CLOUD_PLATFORM],
        ...transport,
      });
    } else {
      const auth = new GoogleAuth({
        scopes: [CLOUD_PLATFORM],
        // A token needs no project; without one, the library looks it up, and one of its ways is a shell running
        // `gcloud config config-helper` found through PATH from the caller's directory (a relative or empty PATH
        // entry would run a `gcloud` planted there).
        projectId: NO_PROJECT_LOOKUP,
        clientOptions: transport,
        ...(request.source.kind === 'key' ? { credentials: request.source.key } : {}),
      });
      client = await auth.getClient();
    }
    if (request.impersonate !== undefined && request.source.kind !== 'pod') {
      client = new Impersonated({
        sourceClient: client,
        targetPrincipal: request.impersonate,
        targetScopes: [CLOUD_PLATFORM],
        lifetime: 3600,
        ...transport,
      });
    }
    const { token } = await client.getAccessToken();
    if (!token)
      throw new CredrelayError(
        'PROVIDER_FAILED',
        `Google credentials for ${request.registry}: ${source} gave no access token`,
      );
    const expiry = client.credentials.expiry_date;
    return {
      username: GOOGLE_TOKEN_USER,
      secret: token,
      ...(typeof expiry === 'number' ? { expiresAt: new Date(expiry) } : {}),
    };
  };
  try {
    return await withDeadline(
      mint(),
      deadlineMs,
      () =>
        new CredrelayError(
          'PROVIDER_FAILED',
          `Google credentials for ${request.registry}: no token from ${source} within ${deadlineMs / 1000} s; check the network`,
        ),
    );
  } catch (error) {
    throw explainGoogleError(error, {
      registry: request.registry,
      source,
      impersonate: request.impersonate,
      audience: request.source.kind === 'pod' ? request.source.audience : undefined,
    });
  }
}
