import {
  type Credential,
  CredrelayError,
  type PodIdentity,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  type RouteOptionValues,
  jwtClaims,
  stringOption,
} from '../../src/plugin-api.js';
import { AZURE_CLOUDS, AZURE_CLOUD_NAMES, type AzureCloudName, acrCloudOf } from './acr-host.js';
import { type EntraTokenRequest, credentialInUse, entraToken } from './entra-token.js';
import { ACR_TOKEN_USER, type ExchangeRequest, exchangeForRefreshToken } from './exchange.js';

/** The annotations Azure workload identity puts on a service account: the application and tenant it acts as. */
const CLIENT_ID_ANNOTATION = 'azure.workload.identity/client-id';
const TENANT_ID_ANNOTATION = 'azure.workload.identity/tenant-id';
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TENANT =
  /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-z0-9-]+(?:\.[a-z0-9-]+)+)$/;

interface AcrProviderOptions {
  /** Replace the Entra and exchange calls in unit tests. */
  readonly entraToken?: (request: EntraTokenRequest) => Promise<string>;
  readonly exchange?: (request: ExchangeRequest) => Promise<Credential>;
}

/**
 * Azure Container Registry: a Microsoft Entra token from Azure's default credential chain (a service principal in
 * the environment, workload identity, managed identity, the Azure CLI), exchanged at the registry for a refresh
 * token that Docker sends as the password of user 00000000-0000-0000-0000-000000000000. The refresh token is cached
 * in daemon memory until its own expiry (three hours), refreshed ahead of it; one exchange per identity and registry.
 */
export function createAcrProvider(dependencies: AcrProviderOptions = {}): Provider {
  const getEntraToken = dependencies.entraToken ?? entraToken;
  const exchange = dependencies.exchange ?? exchangeForRefreshToken;

  const entraRequestFor = (registry: RegistryIdentity, options: RouteOptionValues): EntraTokenRequest => {
    const cloud = AZURE_CLOUDS[cloudFor(registry, options)];
    const scope = stringOption(options, 'scope');
    return {
      registry: registry.key,
      scope:
        scope === undefined
          ? cloud.scope
          : scope.endsWith('/.default')
            ? scope
            : `${scope.replace(/\/$/, '')}/.default`,
      authorityHost: cloud.authorityHost,
      tenantId: stringOption(options, 'tenantId'),
      clientId: stringOption(options, 'clientId'),
      instanceDiscovery: options.instanceDiscovery !== false,
    };
  };

  const refreshToken = async (registry: RegistryIdentity, context: ProviderContext) => {
    const node = entraRequestFor(registry, context.options);
    const pod = context.podIdentity;
    const asPod = pod === undefined ? undefined : podClient(pod, context.options);
    const request: EntraTokenRequest =
      pod === undefined || asPod === undefined
        ? node
        : {
            ...node,
            ...asPod,
            pod: { token: pod.token, serviceAccount: `${pod.namespace}/${pod.serviceAccount}` },
          };
    const accessToken = await getEntraToken(request);
    context.logger.redact(accessToken);
    const claims = jwtClaims(accessToken);
    const issuedIn = typeof claims?.tid === 'string' ? claims.tid : undefined;
    const credential = await exchange({
      registry,
      accessToken,
      tenant: issuedIn ?? request.tenantId ?? process.env.AZURE_TENANT_ID,
      tried: credentialInUse(request),
    });
    return { credential, claims };
  };

  return {
    name: 'acr',
    about: {
      description:
        'Azure Container Registry: an Entra token from the Azure credential chain, exchanged at the registry',
      hostPatterns: AZURE_CLOUD_NAMES.map((name) => `<registry>.${AZURE_CLOUDS[name].registrySuffix}`),
      // @azure/identity: its credential chain and the managed-identity endpoints of App Service, Arc and Cloud Shell.
      reads: [
        'AZURE_*',
        'MSI_ENDPOINT',
        'MSI_SECRET',
        'IDENTITY_ENDPOINT',
        'IDENTITY_HEADER',
        'IDENTITY_SERVER_THUMBPRINT',
        'IMDS_ENDPOINT',
      ],
    },
    routes: {
      listedUsername: () => ACR_TOKEN_USER,
      options: {
        tenantId: {
          type: 'string',
          description: 'the Entra tenant to ask in (a GUID or a domain such as contoso.onmicrosoft.com)',
          pattern: TENANT,
        },
        clientId: {
          type: 'string',
          description: "a user-assigned managed identity's or workload identity's client ID (a GUID)",
          pattern: GUID,
        },
        cloud: {
          type: 'string',
          description: `the Azure cloud of a custom domain: ${AZURE_CLOUD_NAMES.join(', ')} (default: from the host, else AzureCloud)`,
          pattern: new RegExp(`^(?:${AZURE_CLOUD_NAMES.join('|')})$`),
        },
        scope: {
          type: 'string',
          description: 'the audience to ask Entra for, such as https://containerregistry.azure.net (default: by cloud)',
          pattern: /^https:\/\/[a-z0-9.-]+(?::\d{1,5})?\/?(?:\.default)?$/,
        },
        instanceDiscovery: {
          type: 'boolean',
          description:
            'false for an Entra authority that instance discovery does not know (Azure Stack, a private one)',
        },
      },
      check(pattern, options) {
        if (pattern.kind !== 'exact' || typeof options.cloud !== 'string') return undefined;
        const hostCloud = acrCloudOf(pattern.identity);
        return hostCloud !== undefined && hostCloud !== options.cloud
          ? `is a registry of ${hostCloud}, so "cloud" cannot be ${options.cloud}`
          : undefined;
      },
    },
    matches: (registry) => acrCloudOf(registry) !== undefined,
    podIdentity: {
      uses: (pod, options) => podClient(pod, options) !== undefined,
      annotations: () => [CLIENT_ID_ANNOTATION, TENANT_ID_ANNOTATION],
    },
    cachePolicy: {
      identity(options) {
        // Readable in `credrelay cache list`, and distinct for every identity that could get a different token.
        const parts = [
          ['tenant', stringOption(options, 'tenantId') ?? process.env.AZURE_TENANT_ID],
          ['client', stringOption(options, 'clientId') ?? process.env.AZURE_CLIENT_ID],
          ['cloud', stringOption(options, 'cloud')],
          ['scope', stringOption(options, 'scope')],
        ].filter(([, value]) => value !== undefined && value !== '');
        return parts.length === 0 ? 'default credentials' : parts.map(([key, value]) => `${key}=${value}`).join(' ');
      },
    },
    async get(registry, context) {
      return (await refreshToken(registry, context)).credential;
    },
    diagnostics: {
      async diagnose(registry, context) {
        const { credential, claims } = await refreshToken(registry, context);
        const principal = [claims?.upn, claims?.appid, claims?.oid].find((value) => typeof value === 'string');
        const tenant = typeof claims?.tid === 'string' ? ` in tenant ${claims.tid}` : '';
        return `${principal ? `Entra principal ${String(principal)}` : 'an Entra token'}${tenant}, exchanged by ${registry.key} for a refresh token valid until ${credential.expiresAt?.toISOString() ?? 'unknown'}`;
      },
    },
  };
}

function cloudFor(registry: RegistryIdentity, options: RouteOptionValues): AzureCloudName {
  const named = stringOption(options, 'cloud');
  return AZURE_CLOUD_NAMES.find((name) => name === named) ?? acrCloudOf(registry) ?? 'AzureCloud';
}

/**
 * The application and tenant a pod acts as: its service account's workload identity annotations, else the route's
 * `clientId` and `tenantId` (and AZURE_TENANT_ID). Undefined when either is unknown: the node answers.
 */
function podClient(pod: PodIdentity, options: RouteOptionValues): { clientId: string; tenantId: string } | undefined {
  const clientId = pod.annotations[CLIENT_ID_ANNOTATION] ?? stringOption(options, 'clientId');
  const tenantId =
    pod.annotations[TENANT_ID_ANNOTATION] ?? stringOption(options, 'tenantId') ?? process.env.AZURE_TENANT_ID;
  if (clientId === undefined || tenantId === undefined) return undefined;
  if (!GUID.test(clientId) || !TENANT.test(tenantId)) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `service account ${pod.namespace}/${pod.serviceAccount} names an Azure client or tenant that is not an ID (${CLIENT_ID_ANNOTATION}, ${TENANT_ID_ANNOTATION}: GUIDs)`,
    );
  }
  return { clientId, tenantId };
}
