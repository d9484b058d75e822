import { createHash, createHmac } from 'node:crypto';
import { CredrelayError, type SecretSource, foreignExcerpt, httpExchange } from '../../src/plugin-api.js';
import { unreachable } from './rest.js';

/** One SigV4-signed `GetSecretValue`, as the AWS SDK would make it; the signing is the SDK's own (@smithy). */
export const awsSecretsManagerSource: SecretSource = {
  name: 'aws-secretsmanager',
  readsAsCaller: true,
  options: {
    id: {
      type: 'string',
      required: true,
      description: 'the secret, by name or ARN (ci/dockerhub)',
      pattern: /^[\w/+=.@:-]{1,2048}$/,
    },
    region: {
      type: 'string',
      description: 'the AWS region (default AWS_REGION, or the region of an ARN)',
      pattern: /^[a-z]{2}(-[a-z]+)+-\d$/,
    },
    profile: { type: 'string', description: 'an AWS profile name from ~/.aws/config', pattern: /^[\w.+@-]+$/ },
    roleArn: {
      type: 'string',
      description: 'an IAM role to assume first (arn:aws:iam::ACCOUNT:role/NAME)',
      pattern: /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/,
    },
    versionStage: { type: 'string', description: 'a version stage (default AWSCURRENT)', pattern: /^[\w-]+$/ },
  },
  check: (options, asCaller) =>
    asCaller && options.roleArn === undefined
      ? 'pulls the secret as the CI job: give it "roleArn", the role whose trust policy accepts the job\'s token'
      : undefined,
  describe: (options) => `AWS Secrets Manager ${String(options.id)}`,
  async fetch(options, context) {
    const id = String(options.id);
    const fail = (why: string) =>
      new CredrelayError('SECRET_MISSING', `secret ${context.name} (AWS Secrets Manager ${id}): ${why}`);
    const region =
      (options.region as string | undefined) ??
      /^arn:aws[\w-]*:secretsmanager:([a-z0-9-]+):/.exec(id)?.[1] ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION;
    if (region === undefined) throw fail('no region: give "region", or set AWS_REGION');
    const credentials = await resolveCredentials(options, context, region).catch((error: Error) => {
      throw fail(
        `no AWS credentials (${foreignExcerpt(error.message, 160)}): log in (aws sso login), or give "profile" or "roleArn"`,
      );
    });
    const endpoint = new URL(
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER ||
        process.env.AWS_ENDPOINT_URL ||
        `https://secretsmanager.${region}.amazonaws.com`,
    );
    const body = JSON.stringify({
      SecretId: id,
      ...(options.versionStage ? { VersionStage: String(options.versionStage) } : {}),
    });
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const signer = new SignatureV4({ credentials, region, service: 'secretsmanager', sha256: NodeSha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
      path: endpoint.pathname,
      query: {},
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
      body,
    });
    const answer = await httpExchange(endpoint.href, {
      method: 'POST',
      headers: signed.headers as Record<string, string>,
      body,
      deadlineMs: context.deadlineMs,
      maxBytes: 128 * 1024,
    }).catch((error: Error) => {
      throw fail(unreachable(endpoint.host, error));
    });
    let parsed: {
      SecretString?: unknown;
      SecretBinary?: unknown;
      __type?: unknown;
      message?: unknown;
      Message?: unknown;
    };
    try {
      parsed = JSON.parse(answer.body) as typeof parsed;
    } catch {
      throw fail(`AWS answered HTTP ${answer.status}, not JSON`);
    }
    if (answer.status === 200) {
      if (typeof parsed.SecretString === 'string') return parsed.SecretString;
      if (typeof parsed.SecretBinary === 'string') return Buffer.from(parsed.SecretBinary, 'base64').toString('utf8');
      throw fail('the answer holds no value');
    }
    const type =
      String(parsed.__type ?? '')
        .split('#')
        .pop() ?? '';
    const said = foreignExcerpt(String(parsed.message ?? parsed.Message ?? ''), 160);
    if (type === 'ResourceNotFoundException') throw fail(`it does not exist in ${region}: check "id" and "region"`);
    if (type === 'AccessDeniedException' || answer.status === 403)
      throw fail(
        `access denied for the identity used${said ? ` (${said})` : ''}: allow it secretsmanager:GetSecretValue on the secret`,
      );
    if (type === 'DecryptionFailure')
      throw fail(`its KMS key cannot be used by the identity used: allow it kms:Decrypt`);
    throw fail(`AWS answered HTTP ${answer.status} ${type}${said ? `: ${said}` : ''}`);
  },
};

/** The AWS credential chain (a profile), a role assumed with it, or the CI job's token for a role. */
async function resolveCredentials(
  options: Readonly<Record<string, unknown>>,
  context: Parameters<SecretSource['fetch']>[1],
  region: string,
) {
  const { fromNodeProviderChain, fromTemporaryCredentials, fromWebToken } =
    await import('@aws-sdk/credential-providers');
  const roleArn = options.roleArn as string | undefined;
  if (context.callerToken !== undefined && roleArn !== undefined) {
    return fromWebToken({
      roleArn,
      webIdentityToken: context.callerToken,
      roleSessionName: 'credrelay-secrets',
      clientConfig: { region },
    })();
  }
  const base = fromNodeProviderChain({
    ...(options.profile ? { profile: String(options.profile) } : {}),
    ignoreCache: true,
  });
  if (roleArn === undefined) return base();
  return fromTemporaryCredentials({
    masterCredentials: base,
    params: { RoleArn: roleArn, RoleSessionName: 'credrelay-secrets' },
    clientConfig: { region },
  })();
}

/** What @smithy hashes: text, or bytes in any view. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 as @smithy/signature-v4 takes it (a hash or an HMAC with a key), from node:crypto. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}
