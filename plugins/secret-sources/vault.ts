import {
  CredrelayError,
  type SecretSource,
  type SecretSourceContext,
  foreignExcerpt,
  httpExchange,
  readTokenFile,
} from '../../src/plugin-api.js';
import { isAllowedServer, serverProblem, unreachable } from './rest.js';

/**
 * HashiCorp Vault or OpenBao, KV version 2: `GET {address}/v1/{mount}/data/{path}` with `X-Vault-Token`, whose
 * `data.data` holds the fields (`key` picks one). The token: a JWT/OIDC login with the CI job's own token (`role`,
 * with the binding's `jobIdentity`: `POST /v1/auth/{jwtMount}/login`), else `tokenFile`, else `VAULT_TOKEN` in the
 * caller's environment.
 */
export const vaultSource: SecretSource = {
  name: 'vault',
  readsAsCaller: true,
  options: {
    address: {
      type: 'string',
      description: 'the server, https://vault.example:8200 (plain http only on this machine); default VAULT_ADDR',
    },
    mount: { type: 'string', description: 'the KV v2 mount (default secret)', pattern: /^[\w.-]+(?:\/[\w.-]+)*$/ },
    path: {
      type: 'string',
      required: true,
      description: 'the secret path in the mount (ci/dockerhub)',
      pattern: /^[\w.@-]+(?:\/[\w.@-]+)*$/,
    },
    namespace: { type: 'string', description: 'a Vault Enterprise namespace (X-Vault-Namespace)' },
    role: {
      type: 'string',
      description: "the JWT/OIDC auth role to log in with the CI job's token (with jobIdentity)",
    },
    jwtMount: {
      type: 'string',
      description: 'where the JWT auth method is mounted (default jwt)',
      pattern: /^[\w.-]+(?:\/[\w.-]+)*$/,
    },
    tokenFile: {
      type: 'string',
      description: 'an absolute path to a file holding a Vault token (yours, mode 600)',
      pattern: /^\//,
    },
  },
  check(options, asCaller) {
    if (options.role !== undefined && !asCaller)
      return 'logs in with "role", which needs the CI job\'s token: give it "jobIdentity" (as a route takes it)';
    return serverProblem(options.address, 'address');
  },
  describe: (options) =>
    `Vault ${String(options.mount ?? 'secret')}/${String(options.path)}${options.address ? ` at ${String(options.address)}` : ''}`,
  async fetch(options, context) {
    const address = String(options.address ?? process.env.VAULT_ADDR ?? '');
    const where = `Vault ${String(options.mount ?? 'secret')}/${String(options.path)}`;
    const fail = (why: string) => new CredrelayError('SECRET_MISSING', `secret ${context.name} (${where}): ${why}`);
    if (!isAllowedServer(address))
      throw fail('no server: give "address", or set VAULT_ADDR (https://, or http:// on this machine)');
    const base = address.replace(/\/+$/, '');
    const namespace = options.namespace === undefined ? {} : { 'x-vault-namespace': String(options.namespace) };
    const token = await vaultToken(options, context, base, namespace, fail);
    const answer = await httpExchange(`${base}/v1/${String(options.mount ?? 'secret')}/data/${String(options.path)}`, {
      headers: { 'x-vault-token': token, accept: 'application/json', ...namespace },
      deadlineMs: context.deadlineMs,
    }).catch((error: Error) => {
      throw fail(`${unreachable(base, error)}: check "address"`);
    });
    if (answer.status === 200) {
      const fields = (JSON.parse(answer.body) as { data?: { data?: unknown } }).data?.data;
      if (typeof fields === 'object' && fields !== null) return fields as Record<string, unknown>;
      throw fail('the answer holds no KV v2 data: is the mount a KV version 2 engine?');
    }
    throw fail(vaultRefusal(answer.status, answer.body));
  },
};

/** What Vault's status means, with its own words (`errors`), never the token. */
function vaultRefusal(status: number, body: string): string {
  let said = '';
  try {
    const errors = (JSON.parse(body) as { errors?: unknown }).errors;
    if (Array.isArray(errors)) said = foreignExcerpt(errors.filter((e) => typeof e === 'string').join('; '), 160);
  } catch {
    said = '';
  }
  const detail = said ? ` (${said})` : '';
  if (status === 503) return `Vault is sealed or in standby${detail}: unseal it, or ask its operator`;
  if (status === 403) return `access denied for the token used${detail}: check the token's or the role's policy`;
  if (status === 404) return `no such secret${detail}: check "mount" and "path"`;
  return `Vault answered HTTP ${status}${detail}`;
}

/** The most a Vault token file may hold: a token is under 100 bytes; a wrapped or batch token a few hundred. */
const VAULT_TOKEN_FILE_BYTES = 16 * 1024;

/** The token to read with: a JWT login with the job's token, a token file, or VAULT_TOKEN. */
async function vaultToken(
  options: Readonly<Record<string, unknown>>,
  context: SecretSourceContext,
  base: string,
  namespace: Record<string, string>,
  fail: (why: string) => Error,
): Promise<string> {
  if (options.role !== undefined) {
    const jwt = context.callerToken;
    if (jwt === undefined) throw fail('"role" needs "jobIdentity": the CI job\'s token to log in with');
    const mount = String(options.jwtMount ?? 'jwt');
    const answer = await httpExchange(`${base}/v1/auth/${mount}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...namespace },
      body: JSON.stringify({ role: String(options.role), jwt }),
      deadlineMs: context.deadlineMs,
    }).catch((error: Error) => {
      throw fail(unreachable(base, error));
    });
    const token =
      answer.status === 200
        ? (JSON.parse(answer.body) as { auth?: { client_token?: unknown } }).auth?.client_token
        : undefined;
    if (typeof token !== 'string' || token === '')
      throw fail(
        `the JWT login to auth/${mount} as role ${String(options.role)} was refused: ${vaultRefusal(answer.status, answer.body.split(jwt).join('[token]'))}`,
      );
    context.logger.redact(token);
    return token;
  }
  if (options.tokenFile !== undefined) {
    const path = String(options.tokenFile);
    // Read as a job's token file is: a FIFO or a link planted at the path must not hang or redirect the request.
    const read = readTokenFile(
      path,
      { bytes: VAULT_TOKEN_FILE_BYTES, what: 'a Vault token' },
      'point "tokenFile" at the file that holds the token',
    );
    if ('missing' in read) throw fail(`the token file ${path} cannot be read (${read.missing})`);
    if ('refused' in read) throw fail(`the token file is not used: ${read.refused.reason}; ${read.refused.fix}`);
    context.logger.redact(read.token);
    return read.token;
  }
  const token = process.env.VAULT_TOKEN;
  if (token === undefined || token === '')
    throw fail(
      'no Vault token: set VAULT_TOKEN, give "tokenFile", or log in as the CI job with "role" and "jobIdentity"',
    );
  return token;
}
