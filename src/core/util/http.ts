import type { IncomingHttpHeaders } from 'node:http';
import { CredrelayError } from '../errors.js';
import { isLoopbackHost } from './loopback.js';
import { withDeadline } from './deadline.js';
import { NETWORK_ERROR_CODES } from './network-errors.js';
import { foreignExcerpt } from './redact.js';

/** An HTTP answer, its body read whole (bounded). */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface HttpCall {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The whole exchange, connection to last byte. */
  readonly deadlineMs: number;
  /** A longer answer is an error, not a buffer that grows. 64 KiB unless said. */
  readonly maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024;

/**
 * One HTTP request to a token or exchange endpoint, with a deadline and a bounded answer. Redirects are not
 * followed (a credential must not be re-sent somewhere else). Plain HTTP is refused except to this machine, so a
 * secret in the body or headers never crosses a network unencrypted. A timeout rejects with code ETIMEDOUT, like
 * a connection that went quiet.
 */
export async function httpExchange(url: string, call: HttpCall): Promise<HttpAnswer> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && isLoopbackHost(target.hostname))) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `refusing ${target.protocol}// to ${target.host}: only HTTPS leaves this machine`,
    );
  }
  const client = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const maxBytes = call.maxBytes ?? DEFAULT_MAX_BYTES;
  let abandon = () => undefined as void;
  const exchange = new Promise<HttpAnswer>((resolve, reject) => {
    const request = client.request(
      target,
      {
        method: call.method ?? 'GET',
        headers: {
          ...call.headers,
          ...(call.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(call.body)) }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            request.destroy(Object.assign(new Error(`answer longer than ${maxBytes} bytes`), { code: 'ETOOLARGE' }));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    abandon = () => void request.destroy();
    request.on('error', reject);
    request.end(call.body);
  });
  return withDeadline(exchange, call.deadlineMs, () => {
    abandon();
    return Object.assign(new Error(`no answer within ${call.deadlineMs / 1000} s`), { code: 'ETIMEDOUT' });
  });
}

/**
 * POSTs a form to a token-exchange endpoint (OAuth's shape), with a deadline. A connection that fails becomes
 * `fail`'s error naming `peer` and what to check; any other failure is quoted short, never the request.
 */
export function postTokenForm(
  url: string,
  form: URLSearchParams,
  options: {
    readonly deadlineMs: number;
    /** The endpoint in words (a host, an origin); `purpose` says why it is reached ("to exchange the Entra token"). */
    readonly peer: string;
    readonly purpose?: string;
    readonly fail: (text: string) => CredrelayError;
  },
): Promise<HttpAnswer> {
  return httpExchange(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
    deadlineMs: options.deadlineMs,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error instanceof CredrelayError) throw error;
    if (NETWORK_ERROR_CODES.has(error.code ?? '')) {
      const reaching = options.purpose === undefined ? options.peer : `${options.peer} ${options.purpose}`;
      throw options.fail(`cannot reach ${reaching} (${error.code}): check the network and proxy settings`);
    }
    throw options.fail(`the token exchange with ${options.peer} failed: ${foreignExcerpt(error.message, 200)}`);
  });
}
