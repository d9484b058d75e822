import { CredrelayError, type SecretSource, foreignExcerpt } from '../../src/plugin-api.js';
import { bearerGet, errorMessageOf, serverProblem } from './rest.js';

const SECRET_MANAGER = 'https://secretmanager.googleapis.com';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/**
 * Google Secret Manager's REST call, `GET /v1/{name}:access` with an OAuth token of Application Default Credentials
 * (the identity GAR uses: a key file, workload identity federation, the metadata server); the payload is base64.
 */
export const gcpSecretManagerSource: SecretSource = {
  name: 'gcp-secretmanager',
  options: {
    name: {
      type: 'string',
      required: true,
      description: 'the secret version, projects/PROJECT/secrets/SECRET/versions/VERSION (or latest)',
      pattern: /^projects\/[\w.:-]+\/secrets\/[\w-]+\/versions\/(?:latest|\d+)$/,
    },
    endpoint: {
      type: 'string',
      description: `the Secret Manager endpoint (default ${SECRET_MANAGER}); HTTPS, or plain HTTP on this machine`,
    },
  },
  check: (options) => serverProblem(options.endpoint, 'endpoint'),

  describe: (options) => `Google Secret Manager ${String(options.name)}`,
  async fetch(options, context) {
    const name = String(options.name);
    const fail = (why: string) =>
      new CredrelayError('SECRET_MISSING', `secret ${context.name} (Google Secret Manager ${name}): ${why}`);
    const { GoogleAuth } = await import('google-auth-library');
    // A token needs no project: told one, the library never shells out to gcloud to look it up.
    const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM], projectId: 'credrelay-token-only' });
    const token = await auth.getAccessToken().catch((error: Error) => {
      throw fail(
        `no Google credentials (${foreignExcerpt(error.message, 160)}): run \`gcloud auth application-default login\`, or set GOOGLE_APPLICATION_CREDENTIALS`,
      );
    });
    if (!token) throw fail('Application Default Credentials gave no access token');
    context.logger.redact(token);
    const base = String(options.endpoint ?? SECRET_MANAGER).replace(/\/+$/, '');
    const answer = await bearerGet(`${base}/v1/${name}:access`, token, context.deadlineMs, fail);
    if (answer.status === 200) {
      const data = (JSON.parse(answer.body) as { payload?: { data?: unknown } }).payload?.data;
      if (typeof data !== 'string') throw fail('the answer holds no payload');
      return Buffer.from(data, 'base64').toString('utf8');
    }
    const said = errorMessageOf(answer.body);
    if (answer.status === 404) throw fail(`it does not exist${said ? ` (${said})` : ''}: check "name"`);
    if (answer.status === 403 || answer.status === 401)
      throw fail(
        `access denied for the identity used${said ? ` (${said})` : ''}: grant it roles/secretmanager.secretAccessor on the secret`,
      );
    throw fail(`Secret Manager answered HTTP ${answer.status}${said ? `: ${said}` : ''}`);
  },
};
