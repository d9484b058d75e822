import { type HttpAnswer, foreignExcerpt, httpExchange, isLoopbackHost } from '../../src/plugin-api.js';

/** Whether a source's server may be asked: HTTPS, or plain HTTP only on this machine (a secret crosses no network). */
export function isAllowedServer(value: unknown): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** The option check for a server URL: undefined when it may be asked, else what to write. */
export const serverProblem = (value: unknown, option: string): string | undefined =>
  value === undefined || isAllowedServer(value)
    ? undefined
    : `"${option}" must be an https:// URL (plain http:// only on this machine)`;

/** What a source says when its server did not answer: where, and the network's own code (ECONNREFUSED). */
export const unreachable = (where: string, error: Error): string =>
  `${where} could not be reached (${(error as NodeJS.ErrnoException).code ?? error.message})`;

/** One GET with a bearer token and a deadline; a network failure is the source's own explained error. */
export function bearerGet(
  url: string,
  token: string,
  deadlineMs: number,
  fail: (why: string) => Error,
): Promise<HttpAnswer> {
  return httpExchange(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    deadlineMs,
    maxBytes: 128 * 1024,
  }).catch((error: Error) => {
    throw fail(unreachable(new URL(url).origin, error));
  });
}

/** What a cloud API's error body says (`{"error": {"message": …}}`), short and printable, or ''. */
export function errorMessageOf(body: string): string {
  try {
    return foreignExcerpt(String((JSON.parse(body) as { error?: { message?: unknown } }).error?.message ?? ''), 160);
  } catch {
    return '';
  }
}
