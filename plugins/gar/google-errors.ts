import { CredrelayError, foreignExcerpt, NETWORK_ERROR_CODES } from '../../src/plugin-api.js';

/** Where Application Default Credentials look, in order, for the "nothing found" message. */
const ADC_SOURCES =
  'GOOGLE_APPLICATION_CREDENTIALS, the gcloud ADC file (~/.config/gcloud/application_default_credentials.json), and the GCE/GKE metadata server';

/**
 * Explains a google-auth-library failure: what failed and what to do. Messages from Google name principals and
 * reasons; the key and tokens are never part of them.
 */
export function explainGoogleError(
  error: unknown,
  what: { registry: string; source: string; impersonate?: string | undefined; audience?: string | undefined },
): CredrelayError {
  if (error instanceof CredrelayError) return error;
  const details = error as {
    message?: string;
    code?: string | number;
    status?: number;
    response?: { status?: number; data?: { error?: unknown; error_description?: unknown } };
  };
  // An excerpt only: a credentials file that is not JSON makes the parser quote the file, secret and all.
  const message = foreignExcerpt(details.message ?? '', 240);
  const status = details.response?.status ?? details.status;
  const oauthError = typeof details.response?.data?.error === 'string' ? details.response.data.error : undefined;
  const fail = (text: string) =>
    new CredrelayError('PROVIDER_FAILED', `Google credentials for ${what.registry}: ${text}`);

  if (/Could not load the default credentials/i.test(message)) {
    return fail(
      `no Google credentials found (tried ${ADC_SOURCES}): run \`gcloud auth application-default login\`, or set GOOGLE_APPLICATION_CREDENTIALS to a key or workload identity federation file, or give the registry a "keySecret"`,
    );
  }
  if (
    NETWORK_ERROR_CODES.has(String(details.code)) ||
    /ECONNREFUSED|ENOTFOUND|timed? ?out|socket hang up/i.test(message)
  ) {
    return fail(
      `cannot reach Google's token service for ${what.source} (${details.code ?? message}): check the network and proxy settings`,
    );
  }
  if (what.audience && oauthError !== undefined) {
    return fail(
      `Security Token Service refused ${what.source} for ${what.audience} (${oauthError ?? `HTTP ${status}`}): the workload identity pool must trust the cluster's issuer, and kubelet's tokenAttributes audience must be the one the provider expects (${message})`,
    );
  }
  if (what.impersonate && (status === 403 || /PERMISSION_DENIED|iam\.serviceAccounts\.getAccessToken/i.test(message))) {
    return fail(
      `impersonating ${what.impersonate} was refused: the caller needs roles/iam.serviceAccountTokenCreator on it (${message})`,
    );
  }
  if (oauthError === 'invalid_grant' || status === 400 || status === 401) {
    return fail(
      `Google refused ${what.source} (${oauthError ?? `HTTP ${status}`}): the key may be deleted or disabled, or the login expired; run \`gcloud auth application-default login\` or store a new key`,
    );
  }
  return fail(
    `the token request for ${what.source} failed (${status ? `HTTP ${status}` : (details.code ?? 'error')}): ${message || 'no message'}`,
  );
}
