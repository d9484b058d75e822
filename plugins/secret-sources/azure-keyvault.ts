import { CredrelayError, type SecretSource, foreignExcerpt } from '../../src/plugin-api.js';
import { bearerGet, errorMessageOf, serverProblem } from './rest.js';

const KEY_VAULT_SCOPE = 'https://vault.azure.net/.default';
const API_VERSION = '7.4';

/**
 * Azure Key Vault's REST call, `GET {vault}/secrets/{name}/{version}?api-version=7.4` with an Entra token for Key
 * Vault from the credential chain ACR uses (environment, workload identity, managed identity, the Azure CLI), or with
 * `jobIdentity` as the CI job: its token as the client assertion of the app registration `clientId` names.
 */
export const azureKeyVaultSource: SecretSource = {
  name: 'azure-keyvault',
  readsAsCaller: true,
  options: {
    vault: {
      type: 'string',
      required: true,
      description: 'the vault URL, https://NAME.vault.azure.net (plain http only on this machine)',
    },
    name: { type: 'string', required: true, description: 'the secret name', pattern: /^[0-9a-zA-Z-]{1,127}$/ },
    version: { type: 'string', description: 'a version id (default the current version)', pattern: /^[0-9a-f]{32}$/ },
    tenantId: { type: 'string', description: 'the Entra tenant', pattern: /^[\w.-]+$/ },
    clientId: {
      type: 'string',
      description: 'with "jobIdentity": the app registration with a federated credential for the CI job',
      pattern: /^[0-9a-fA-F-]{36}$/,
    },
    instanceDiscovery: { type: 'boolean', description: 'whether Entra instance discovery runs (default true)' },
  },
  check: (options, asCaller) => {
    if (asCaller && (options.tenantId === undefined || options.clientId === undefined))
      return 'reads the secret as the CI job: give it "tenantId" and "clientId", the app registration with a federated credential for the job';
    if (!asCaller && options.clientId !== undefined)
      return '"clientId" is for reading the secret as the CI job: give "jobIdentity" too';
    return serverProblem(options.vault, 'vault');
  },

  describe: (options) => `Azure Key Vault ${String(options.vault)} secret ${String(options.name)}`,
  async fetch(options, context) {
    const where = `Azure Key Vault ${String(options.vault)} secret ${String(options.name)}`;
    const fail = (why: string) => new CredrelayError('SECRET_MISSING', `secret ${context.name} (${where}): ${why}`);
    const [{ ClientAssertionCredential, DefaultAzureCredential }, logger] = await Promise.all([
      import('@azure/identity'),
      import('@azure/logger'),
    ]);
    // The library's own log would reach the Docker user's terminal in-process: it goes nowhere.
    logger.setLogLevel();
    logger.AzureLogger.log = () => undefined;
    const common = {
      ...(process.env.AZURE_AUTHORITY_HOST ? { authorityHost: process.env.AZURE_AUTHORITY_HOST } : {}),
      disableInstanceDiscovery: options.instanceDiscovery === false,
    };
    const { callerToken } = context;
    const credential =
      callerToken === undefined
        ? new DefaultAzureCredential({
            ...common,
            ...(options.tenantId === undefined ? {} : { tenantId: String(options.tenantId) }),
          })
        : // As the CI job: its token is the client assertion of the app registration that trusts it.
          new ClientAssertionCredential(
            String(options.tenantId),
            String(options.clientId),
            () => Promise.resolve(callerToken),
            common,
          );
    const token = await credential.getToken(KEY_VAULT_SCOPE).catch((error: Error) => {
      throw fail(
        `no Entra token for Key Vault (${foreignExcerpt(error.message, 160)}): ${
          callerToken === undefined
            ? 'run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or a federated token)'
            : `check that app ${String(options.clientId)} has a federated credential for this job's issuer and subject`
        }`,
      );
    });
    context.logger.redact(token.token);
    const base = String(options.vault).replace(/\/+$/, '');
    const version = options.version === undefined ? '' : `/${String(options.version)}`;
    const answer = await bearerGet(
      `${base}/secrets/${String(options.name)}${version}?api-version=${API_VERSION}`,
      token.token,
      context.deadlineMs,
      fail,
    );
    if (answer.status === 200) {
      const value = (JSON.parse(answer.body) as { value?: unknown }).value;
      if (typeof value !== 'string') throw fail('the answer holds no value');
      return value;
    }
    const said = errorMessageOf(answer.body);
    if (answer.status === 404) throw fail(`it does not exist${said ? ` (${said})` : ''}: check "name" and "version"`);
    if (answer.status === 401 || answer.status === 403)
      throw fail(
        `access denied for the identity used${said ? ` (${said})` : ''}: give it the Key Vault Secrets User role (or a get-secret access policy)`,
      );
    throw fail(`Key Vault answered HTTP ${answer.status}${said ? `: ${said}` : ''}`);
  },
};
