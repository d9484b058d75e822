import { type IncomingMessage, type Server, createServer } from 'node:http';

/** One AWS call as the proxy saw it. */
export interface AwsCall {
  /** `ecr:GetAuthorizationToken`, `sts:AssumeRole`, … */
  readonly action: string;
  /** From the SigV4 credential scope: the region and access key the request was signed with. */
  readonly region: string;
  readonly accessKeyId: string;
  readonly body: string;
  readonly at: number;
  /** For sts:AssumeRole*: the temporary access key STS answered with. */
  issuedAccessKeyId?: string;
}

/** How the proxy bends moto's answers. */
export interface AwsProxyBehaviour {
  /** Rewrite GetAuthorizationToken's expiresAt to now + this many seconds (moto's is fixed in 2015). */
  expiresInSeconds?: number;
  /** Give every token a distinct password (`…-auth-token-N`), to tell a cached token from a fresh one. */
  uniqueTokens?: boolean;
  /** Answer ECR calls with this HTTP status and AWS error code instead of forwarding them. */
  failEcrWith?: { status: number; code: string } | undefined;
  /** Wait this long before forwarding each ECR call. */
  delayMs?: number;
  /** Close the connection of every ECR call without answering. */
  dropEcr?: boolean;
}

export interface AwsProxy {
  readonly endpoint: string;
  readonly calls: AwsCall[];
  readonly behaviour: AwsProxyBehaviour;
  /** GetAuthorizationToken calls so far, optionally for one account. */
  tokenCalls(accountId?: string): AwsCall[];
  stop(): Promise<void>;
}

const readBody = (request: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });

/**
 * A recording proxy in front of moto, on 127.0.0.1: clients reach it through AWS_ENDPOINT_URL_ECR and
 * AWS_ENDPOINT_URL_STS. It records which action was called, signed for which region and with which access key.
 */
export async function startAwsProxy(upstream: string): Promise<AwsProxy> {
  const calls: AwsCall[] = [];
  const behaviour: AwsProxyBehaviour = {};
  let tokens = 0;
  const server: Server = createServer(async (request, response) => {
    const body = await readBody(request);
    const text = body.toString('utf8');
    const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\//.exec(String(request.headers.authorization ?? ''));
    const target = String(request.headers['x-amz-target'] ?? '');
    // Unsigned calls (AssumeRoleWithWebIdentity) carry no credential scope; STS is the form-encoded service.
    const service = scope?.[3] ?? (/(?:^|&)Action=/.test(text) ? 'sts' : '?');
    const action = target
      ? `${service}:${target.split('.').pop()}`
      : `${service}:${/Action=([A-Za-z]+)/.exec(text)?.[1] ?? '?'}`;
    const call: AwsCall = {
      action,
      region: scope?.[2] ?? '',
      accessKeyId: scope?.[1] ?? '',
      body: text,
      at: Date.now(),
    };
    calls.push(call);

    const isToken = action === 'ecr:GetAuthorizationToken';
    if (service === 'ecr' && behaviour.delayMs) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
    if (service === 'ecr' && behaviour.dropEcr) {
      request.socket.destroy();
      return;
    }
    if (service === 'ecr' && behaviour.failEcrWith) {
      response.writeHead(behaviour.failEcrWith.status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify({ __type: behaviour.failEcrWith.code, message: `injected ${behaviour.failEcrWith.code}` }),
      );
      return;
    }
    const headers = { ...request.headers };
    delete headers['content-length'];
    const upstreamResponse = await fetch(`${upstream}${request.url ?? '/'}`, {
      method: request.method ?? 'POST',
      headers: headers as Record<string, string>,
      body,
    });
    let payload = Buffer.from(await upstreamResponse.arrayBuffer());
    if (action.startsWith('sts:AssumeRole')) {
      const issued = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(payload.toString('utf8'))?.[1];
      if (issued !== undefined) call.issuedAccessKeyId = issued;
    }
    if (isToken && upstreamResponse.ok && (behaviour.expiresInSeconds !== undefined || behaviour.uniqueTokens)) {
      const document = JSON.parse(payload.toString('utf8')) as {
        authorizationData: Array<{ authorizationToken: string; expiresAt: number | string }>;
      };
      tokens += 1;
      for (const data of document.authorizationData) {
        if (behaviour.expiresInSeconds !== undefined) data.expiresAt = Date.now() / 1000 + behaviour.expiresInSeconds;
        if (behaviour.uniqueTokens) {
          data.authorizationToken = Buffer.from(
            `${Buffer.from(data.authorizationToken, 'base64').toString()}-${tokens}`,
          ).toString('base64');
        }
      }
      payload = Buffer.from(JSON.stringify(document));
    }
    response.writeHead(upstreamResponse.status, {
      'content-type': upstreamResponse.headers.get('content-type') ?? 'application/json',
    });
    response.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    behaviour,
    tokenCalls: (accountId) =>
      calls.filter(
        (call) =>
          call.action === 'ecr:GetAuthorizationToken' && (accountId === undefined || call.body.includes(accountId)),
      ),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
