import { CredrelayError, type SecretSource, foreignExcerpt } from '../../src/plugin-api.js';
import { bearerGet, errorMessageOf, serverProblem } from './rest.js';

const SECRET_MANAGER = 'https://secretmanager.googleapis.com';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_STS = 'https://sts.googleapis.com';

/**
 * Google Secret Manager's REST call, `GET /v1/{name}:access` with an OAuth token of Application Default Credentials
 * (the identity GAR uses: a key file, workload identity federation, the metadata server), or with `jobIdentity` the
 * CI job's token exchanged at Security Token Service under `workloadIdentityProvider`; the payload is base64.
 */
export const gcpSecretManagerSource: SecretSource = {
  name: 'gcp-secretmanager',
  readsAsCaller: true,
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
    workloadIdentityProvider: {
      type: 'string',
      description:
        'with "jobIdentity": the workload identity provider the CI job\'s token is exchanged under (//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER)',
      pattern:
        /^\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/global\/workloadIdentityPools\/[\w-]+\/providers\/[\w-]+$/,
    },
    stsEndpoint: {
      type: 'string',
      description: `with "jobIdentity": Security Token Service's endpoint (default ${GOOGLE_STS}); HTTPS, or plain HTTP on this machine`,
    },
  },
  check: (options, asCaller) => {
    if (asCaller === (options.workloadIdentityProvider === undefined))
      return !asCaller
        ? '"workloadIdentityProvider" is for reading the secret as the CI job: give "jobIdentity" too'
        : 'reads the secret as the CI job: give it "workloadIdentityProvider", the provider whose pool trusts the job\'s token';
    return serverProblem(options.endpoint, 'endpoint') ?? serverProblem(options.stsEndpoint, 'stsEndpoint');
  },

  describe: (options) => `Google Secret Manager ${String(options.name)}`,
  async fetch(options, context) {
    const name = String(options.name);
    const fail = (why: string) =>
      new CredrelayError('SECRET_MISSING', `secret ${context.name} (Google Secret Manager ${name}): ${why}`);
    const { GoogleAuth, IdentityPoolClient } = await import('google-auth-library');
    const { callerToken } = context;
    const token =
      callerToken === undefined
        ? // A token needs no project: told one, the library never shells out to gcloud to look it up.
          await new GoogleAuth({ scopes: [CLOUD_PLATFORM], projectId: 'credrelay-token-only' })
            .getAccessToken()
            .catch((error: Error) => {
              throw fail(
                `no Google credentials (${foreignExcerpt(error.message, 160)}): run \`gcloud auth application-default login\`, or set GOOGLE_APPLICATION_CREDENTIALS`,
              );
            })
        : // As the CI job: workload identity federation with its token handed over directly (no credential file).
          await new IdentityPoolClient({
            type: 'external_account',
            audience: String(options.workloadIdentityProvider),
            subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
            token_url: `${String(options.stsEndpoint ?? GOOGLE_STS).replace(/\/+$/, '')}/v1/token`,
            subject_token_supplier: { getSubjectToken: () => Promise.resolve(callerToken) },
            scopes: [CLOUD_PLATFORM],
          })
            .getAccessToken()
            .then((answer) => answer.token)
            .catch((error: Error) => {
              throw fail(
                `the CI job's token was not exchanged under ${String(options.workloadIdentityProvider)} (${foreignExcerpt(error.message, 160)}): check that the pool's provider trusts this job's issuer and claims`,
              );
            });
    if (!token) throw fail('no access token was given for it');
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
