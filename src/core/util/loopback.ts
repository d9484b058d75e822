import { isIP } from 'node:net';

/** Whether a host is this machine: a bare host name or address (brackets around IPv6 allowed), as a URL's `hostname` gives it. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
