import type { TokenCredential } from '@azure/identity';
import { CredrelayError, NETWORK_ERROR_CODES, ReusePool, foreignExcerpt, withDeadline } from '../../src/plugin-api.js';

/** Entra and the Azure CLI together: a managed identity's first token, or `az`, can take seconds. */
const ENTRA_DEADLINE_MS = 20_000;

/** Who asks Microsoft Entra for a token, and for what. */
export interface EntraTokenRequest {
  /** The registry key, for messages. */
  readonly registry: string;
  readonly scope: string;
  readonly authorityHost: string;
  /** A tenant to ask in, instead of the credential's own (AZURE_TENANT_ID, the Azure CLI's). */
  readonly tenantId?: string | undefined;
  /** A user-assigned managed identity's or a workload identity's client ID, instead of AZURE_CLIENT_ID. */
  readonly clientId?: string | undefined;
  /** Off for an authority Entra's instance discovery does not know (Azure Stack, a private one). */
  readonly instanceDiscovery: boolean;
  /**
   * A pod's service-account token, presented as the client assertion of `clientId` in `tenantId` (workload identity
   * federation) instead of the default chain.
   */
  readonly pod?: { readonly token: string; readonly serviceAccount: string } | undefined;
}

/**
 * DefaultAzureCredential instances, kept: each holds Entra's tokens in memory until they near expiry (never on
 * disk), and a new one per exchange would ask Entra every time.
 */
const credentials = new ReusePool<TokenCredential>(16);

/** An Entra access token for the request's scope, from Azure's default credential chain. */
export async function entraToken(request: EntraTokenRequest): Promise<string> {
  const key = JSON.stringify([request.authorityHost, request.tenantId, request.clientId, request.instanceDiscovery]);
  const controller = new AbortController();
  try {
    const credential =
      request.pod === undefined
        ? await credentials.get(key, () => defaultCredential(request))
        : await podCredential(request);
    const token = await withDeadline(
      credential.getToken(request.scope, { abortSignal: controller.signal }),
      ENTRA_DEADLINE_MS,
      () => {
        controller.abort();
        return Object.assign(new Error(`no answer within ${ENTRA_DEADLINE_MS / 1000} s`), { code: 'ETIMEDOUT' });
      },
    );
    if (token === null || token.token === '') throw new Error('the credential returned no token');
    return token.token;
  } catch (error) {
    throw explainEntraError(error, request);
  }
}

async function defaultCredential(request: EntraTokenRequest): Promise<TokenCredential> {
  const [{ DefaultAzureCredential }, logger] = await Promise.all([import('@azure/identity'), import('@azure/logger')]);
  // AZURE_LOG_LEVEL would send the library's log to stderr, which in-process is the Docker user's terminal; its
  // lines are not credrelay's to vouch for, so they go nowhere.
  logger.setLogLevel();
  logger.AzureLogger.log = () => undefined;
  return new DefaultAzureCredential({
    authorityHost: process.env.AZURE_AUTHORITY_HOST || request.authorityHost,
    disableInstanceDiscovery: !request.instanceDiscovery,
    processTimeoutInMs: ENTRA_DEADLINE_MS / 2,
    ...(request.tenantId === undefined ? {} : { tenantId: request.tenantId }),
    ...(request.clientId === undefined
      ? {}
      : { managedIdentityClientId: request.clientId, workloadIdentityClientId: request.clientId }),
  });
}

/** A pod's own credential: its token as the client assertion. Not kept: the daemon caches the refresh token. */
async function podCredential(request: EntraTokenRequest): Promise<TokenCredential> {
  const { ClientAssertionCredential } = await import('@azure/identity');
  const pod = request.pod!;
  return new ClientAssertionCredential(request.tenantId!, request.clientId!, async () => pod.token, {
    authorityHost: process.env.AZURE_AUTHORITY_HOST || request.authorityHost,
    disableInstanceDiscovery: !request.instanceDiscovery,
  });
}

/** The credential DefaultAzureCredential will use in this environment, in words, for messages. */
export function credentialInUse(request: Pick<EntraTokenRequest, 'clientId' | 'pod'>, env = process.env): string {
  const client = request.clientId ?? env.AZURE_CLIENT_ID;
  if (request.pod !== undefined)
    return `the workload identity ${client} of service account ${request.pod.serviceAccount} (its token as client assertion)`;
  if (env.AZURE_TOKEN_CREDENTIALS)
    return `the credential AZURE_TOKEN_CREDENTIALS names (${env.AZURE_TOKEN_CREDENTIALS})`;
  if (env.AZURE_TENANT_ID && env.AZURE_CLIENT_ID && (env.AZURE_CLIENT_SECRET || env.AZURE_CLIENT_CERTIFICATE_PATH)) {
    const kind = env.AZURE_CLIENT_SECRET ? 'client secret' : 'certificate';
    return `the service principal ${env.AZURE_CLIENT_ID} in tenant ${env.AZURE_TENANT_ID} (${kind}, from AZURE_* variables)`;
  }
  if (env.AZURE_FEDERATED_TOKEN_FILE)
    return `the workload identity ${client ?? '(no client ID)'} (AZURE_FEDERATED_TOKEN_FILE)`;
  if (env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT)
    return `the managed identity${client ? ` ${client}` : ''} (${env.IDENTITY_ENDPOINT ? 'IDENTITY_ENDPOINT' : 'MSI_ENDPOINT'})`;
  return `the managed identity${client ? ` ${client}` : ''} of this machine, or the Azure CLI's login`;
}

const OAUTH_ERROR =
  /\b(invalid_client|unauthorized_client|invalid_scope|invalid_resource|invalid_grant|invalid_request)\b/;

const NO_CREDENTIAL_FIX =
  'run `az login`; or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal; or run where a managed identity or workload identity (AZURE_FEDERATED_TOKEN_FILE) is assigned';

/**
 * Explains a failure of @azure/identity: which credential was tried, what failed, and what to do. Entra's messages
 * name the tenant, the application and an AADSTS code, never a secret; they are quoted as an excerpt all the same.
 */
export function explainEntraError(error: unknown, request: EntraTokenRequest): CredrelayError {
  if (error instanceof CredrelayError) return error;
  const details = error as {
    name?: string;
    message?: string;
    code?: string;
    statusCode?: number;
    errorResponse?: { error?: string; errorDescription?: string };
    errors?: readonly { name?: string; message?: string }[];
  };
  const fail = (text: string) =>
    new CredrelayError('PROVIDER_FAILED', `Azure credentials for ${request.registry}: ${text}`);
  const tried = credentialInUse(request);

  if (details.code === 'ETIMEDOUT' || details.name === 'AbortError') {
    return fail(
      `Microsoft Entra did not answer within ${ENTRA_DEADLINE_MS / 1000} s for ${tried}: check the network and proxy settings (HTTPS_PROXY, NO_PROXY)`,
    );
  }
  if (details.name === 'AggregateAuthenticationError' || details.name === 'CredentialUnavailableError') {
    const skipped = details.errors ?? [details];
    // A credential that was configured and refused (a workload identity's assertion) is the news, not the others.
    const refused = skipped.find((each) => /AADSTS\d+/.test(each.message ?? ''));
    if (refused !== undefined) return explainRefusal(refused.message ?? '', 400, request, fail);
    // Each credential's first sentence says why it was skipped; the rest is a link to a troubleshooting page. (An
    // apostrophe would open a quotation, which an excerpt hides, so "couldn't" is spelt out.)
    const reasons = skipped
      .map((each) => (each.message ?? '').split(/\.(?:\s|$)/)[0] ?? '')
      .map((sentence) => foreignExcerpt(sentence.replace(/n't\b/g, ' not'), 80))
      .filter((reason) => reason !== '');
    return fail(
      `no Azure credential is available: ${NO_CREDENTIAL_FIX}${reasons.length > 0 ? ` (tried: ${reasons.join('; ')})` : ''}`,
    );
  }
  if (details.name === 'AuthenticationError' && details.errorResponse) {
    const text = `${details.errorResponse.error ?? ''}\n${details.errorResponse.errorDescription ?? ''}`;
    return explainRefusal(text, details.statusCode, request, fail);
  }
  // A credential used alone (a pod's client assertion) throws Entra's answer as a plain error.
  if (/AADSTS\d+/.test(details.message ?? '')) return explainRefusal(details.message ?? '', 400, request, fail);
  const message = foreignExcerpt(details.message ?? '', 240);
  if (NETWORK_ERROR_CODES.has(details.code ?? '') || /network|ECONNREFUSED|ENOTFOUND|EAI_AGAIN/i.test(message)) {
    return fail(
      `cannot reach Microsoft Entra for ${tried} (${details.code ?? message}): check the network and proxy settings`,
    );
  }
  return fail(`getting a Microsoft Entra token for ${tried} failed: ${message || 'no message'}`);
}

/**
 * Entra's refusal: the OAuth error and Entra's AADSTS line, wherever the credential put them (EnvironmentCredential
 * and DefaultAzureCredential wrap both in descriptions of their own), and the fix for it.
 */
function explainRefusal(
  text: string,
  statusCode: number | undefined,
  request: EntraTokenRequest,
  fail: (text: string) => CredrelayError,
): CredrelayError {
  const tried = credentialInUse(request);
  const code = OAUTH_ERROR.exec(text)?.[1];
  const entraSaid = /AADSTS\d+:[^\n]*/.exec(text)?.[0] ?? text.split('\n')[1] ?? '';
  const said = foreignExcerpt([code, entraSaid].filter(Boolean).join(': '), 240) || `HTTP ${statusCode}`;
  if (!statusCode)
    return fail(`cannot reach Microsoft Entra for ${tried} (${said}): check the network and proxy settings`);
  const fix = /AADSTS70021|AADSTS700213/.test(text)
    ? "the application has no federated credential for this token's issuer and subject: add one (issuer, subject system:serviceaccount:NAMESPACE:NAME, audience api://AzureADTokenExchange)"
    : code === 'invalid_client'
      ? 'the client secret or certificate is wrong or expired: create a new one and set it'
      : code === 'unauthorized_client' || /AADSTS700016/.test(text)
        ? 'the client ID is not an application of that tenant: check AZURE_CLIENT_ID, AZURE_TENANT_ID or the route\'s "clientId" and "tenantId"'
        : code === 'invalid_scope' || code === 'invalid_resource'
          ? `Entra does not know the scope ${request.scope}: set the route's "scope" to the audience the registry takes`
          : /AADSTS90002/.test(text)
            ? 'the tenant does not exist in this cloud: check the tenant ID, and the route\'s "cloud"'
            : 'check the identity in the Azure portal, or sign in again with `az login`';
  return fail(`Microsoft Entra refused ${tried} (${said}): ${fix}`);
}
