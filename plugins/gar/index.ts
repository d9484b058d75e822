import {
  type Credential,
  CredrelayError,
  type Provider,
  type ProviderContext,
  type PodIdentity,
  type RegistryIdentity,
  type RouteOptionValues,
  SECRET_NAME,
  isLoopbackHost,
  stringOption,
} from '../../src/plugin-api.js';
import { isGoogleRegistry } from './gar-host.js';
import {
  GOOGLE_IAM_CREDENTIALS_ENDPOINT,
  GOOGLE_STS_ENDPOINT,
  GOOGLE_TOKEN_USER,
  type GoogleTokenOptions,
  type GoogleTokenRequest,
  mintGoogleToken,
  parseServiceAccountKey,
} from './token-source.js';

/** The annotation GKE's workload identity reads: the Google service account a Kubernetes service account acts as. */
const GCP_SERVICE_ACCOUNT_ANNOTATION = 'iam.gke.io/gcp-service-account';
const SERVICE_ACCOUNT_EMAIL = /^[a-z0-9._+-]+@[a-z0-9.-]+\.gserviceaccount\.com$/;
/** A workload identity pool provider, or a GKE cluster's identity namespace. */
const WORKLOAD_IDENTITY_PROVIDER =
  /^(?:\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/[a-z0-9-]+\/workloadIdentityPools\/[a-z0-9-]+\/providers\/[a-z0-9-]+|identitynamespace:[a-z0-9.-]+\.svc\.id\.goog:https:\/\/container\.googleapis\.com\/v1\/projects\/[a-z0-9-]+\/locations\/[a-z0-9-]+\/clusters\/[a-zA-Z0-9_-]+)$/;
const ENDPOINT = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$|^http:\/\/\[::1\](?::\d{1,5})?$/;

interface GarProviderOptions {
  /** Replaces the token exchange in unit tests. */
  readonly mintToken?: (request: GoogleTokenRequest) => Promise<Credential>;
  /** Passed to google-auth-library (tests give it a transport that receives the requests). */
  readonly tokenOptions?: GoogleTokenOptions;
}

/**
 * Google Artifact Registry and Container Registry: `oauth2accesstoken` and a one-hour OAuth2 access token from
 * Application Default Credentials, from a service-account key kept in the keychain (`keySecret`), optionally
 * impersonating a service account. Docker only ever sees the hour-long token, never the key.
 */
export function createGarProvider(dependencies: GarProviderOptions = {}): Provider {
  const mintToken =
    dependencies.mintToken ?? ((request: GoogleTokenRequest) => mintGoogleToken(request, dependencies.tokenOptions));
  const get = async (registry: RegistryIdentity, context: ProviderContext): Promise<Credential> => {
    const keySecret = stringOption(context.options, 'keySecret');
    const pod = context.podIdentity;
    const source: GoogleTokenRequest['source'] = pod
      ? podSource(pod, context.options)
      : keySecret
        ? {
            kind: 'key',
            secretName: keySecret,
            key: parseServiceAccountKey(await context.resolveSecret(keySecret), keySecret),
          }
        : { kind: 'adc' };
    return mintToken({
      source,
      impersonate: pod ? podServiceAccount(pod, context.options) : stringOption(context.options, 'impersonate'),
      registry: registry.key,
    });
  };
  return {
    name: 'gar',
    about: {
      description:
        'Google Artifact Registry and Container Registry: one-hour OAuth2 tokens (ADC, a stored key, or impersonation)',
      hostPatterns: ['gcr.io', '<one label>.gcr.io', '<location>-docker.pkg.dev', 'docker.<location>.rep.pkg.dev'],
      // google-auth-library, including the lowercase spellings it also reads, and its platform markers.
      reads: [
        'GOOGLE_*',
        'google_application_credentials',
        'gcloud_project',
        'google_cloud_project',
        'GCLOUD_PROJECT',
        'GCE_*',
        'CLOUDSDK_*',
        'METADATA_SERVER_DETECTION',
        'K_SERVICE',
        'K_CONFIGURATION',
        'FUNCTION_NAME',
        'FUNCTION_TARGET',
        'GAE_SERVICE',
        'GAE_APPLICATION',
        'KUBERNETES_SERVICE_HOST',
      ],
    },
    routes: {
      listedUsername: () => GOOGLE_TOKEN_USER,
      options: {
        keySecret: {
          type: 'string',
          description:
            'the name of a secret holding a service-account key (JSON or base64 JSON), such as "GOOGLE_AR_KEY"',
          pattern: SECRET_NAME,
        },
        impersonate: {
          type: 'string',
          description: 'a service-account email such as "puller@project.iam.gserviceaccount.com"',
          pattern: SERVICE_ACCOUNT_EMAIL,
        },
        workloadIdentityProvider: {
          type: 'string',
          description:
            "for a pod's identity in kubelet mode: the workload identity provider (//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER) or GKE identity namespace the pod's token is exchanged under",
          pattern: WORKLOAD_IDENTITY_PROVIDER,
        },
        stsEndpoint: {
          type: 'string',
          description: `Security Token Service's endpoint for a pod's identity (default ${GOOGLE_STS_ENDPOINT}; plain HTTP only on this machine)`,
          pattern: ENDPOINT,
        },
        iamCredentialsEndpoint: {
          type: 'string',
          description: `the IAM Credentials endpoint for impersonation as a pod (default ${GOOGLE_IAM_CREDENTIALS_ENDPOINT}; plain HTTP only on this machine)`,
          pattern: ENDPOINT,
        },
      },
      check(_pattern, options) {
        for (const option of ['stsEndpoint', 'iamCredentialsEndpoint']) {
          const value = stringOption(options, option);
          if (value?.startsWith('http:') && !isLoopbackHost(new URL(value).hostname))
            return `option "${option}" may use plain HTTP only for this machine (127.0.0.1, ::1, localhost); use https://`;
        }
        if ((options.stsEndpoint ?? options.iamCredentialsEndpoint) !== undefined && !options.workloadIdentityProvider)
          return 'options "stsEndpoint" and "iamCredentialsEndpoint" are for a pod\'s identity: give "workloadIdentityProvider" too';
        return undefined;
      },
    },
    podIdentity: {
      uses: (_pod, options) => stringOption(options, 'workloadIdentityProvider') !== undefined,
      annotations: () => [GCP_SERVICE_ACCOUNT_ANNOTATION],
    },
    cachePolicy: {
      // One token opens every Google registry, so the daemon keeps one per identity rather than one per host.
      sharedAcrossRegistries: true,
      identity(options) {
        const keySecret = stringOption(options, 'keySecret');
        const impersonate = stringOption(options, 'impersonate');
        return `${keySecret ? `key in secret ${keySecret}` : 'application default credentials'}${impersonate ? ` as ${impersonate}` : ''}`;
      },
    },
    matches: isGoogleRegistry,
    get,
    diagnostics: {
      async diagnose(registry, context) {
        const credential = await get(registry, context);
        const keySecret = stringOption(context.options, 'keySecret');
        const impersonate = stringOption(context.options, 'impersonate');
        const source = keySecret ? `the service-account key in secret ${keySecret}` : 'Application Default Credentials';
        return `minted a Google access token valid until ${credential.expiresAt?.toISOString() ?? 'an unknown time'} from ${source}${impersonate ? ` as ${impersonate}` : ''}`;
      },
    },
  };
}

/** A pod's token, for workload identity federation under the route's provider, at the route's endpoints. */
function podSource(pod: PodIdentity, options: RouteOptionValues): GoogleTokenRequest['source'] {
  return {
    kind: 'pod',
    token: pod.token,
    serviceAccount: `${pod.namespace}/${pod.serviceAccount}`,
    audience: stringOption(options, 'workloadIdentityProvider')!,
    stsEndpoint: (stringOption(options, 'stsEndpoint') ?? GOOGLE_STS_ENDPOINT).replace(/\/$/, ''),
    iamCredentialsEndpoint: (
      stringOption(options, 'iamCredentialsEndpoint') ?? GOOGLE_IAM_CREDENTIALS_ENDPOINT
    ).replace(/\/$/, ''),
  };
}

/** The Google service account a pod acts as: its service account's annotation, else the route's `impersonate`. */
function podServiceAccount(pod: PodIdentity, options: RouteOptionValues): string | undefined {
  const annotated = pod.annotations[GCP_SERVICE_ACCOUNT_ANNOTATION];
  if (annotated === undefined) return stringOption(options, 'impersonate');
  if (!SERVICE_ACCOUNT_EMAIL.test(annotated)) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `service account ${pod.namespace}/${pod.serviceAccount} has a ${GCP_SERVICE_ACCOUNT_ANNOTATION} annotation that is not a service-account email (NAME@PROJECT.iam.gserviceaccount.com)`,
    );
  }
  return annotated;
}
