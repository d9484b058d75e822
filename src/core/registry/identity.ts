import { CredrelayError } from '../errors.js';
import { isLoopbackHost } from '../util/loopback.js';

/**
 * A registry as credrelay keys it. Docker's own helpers compare raw strings, so a credential stored for
 * `127.0.0.1:5000` is missed by `get https://127.0.0.1:5000`. credrelay parses every server string into this
 * identity instead, and every lookup, route and host matcher works on it, never on the raw text.
 */
export interface RegistryIdentity {
  /** Lower-case host name, or a bracketed IPv6 literal; never a port, path or scheme. */
  readonly host: string;
  /** The port when one was written and it is not 443 (the registry default). */
  readonly port: number | undefined;
  /** The storage and routing key: `host` or `host:port`, and `docker.io` for every Docker Hub spelling. */
  readonly key: string;
  readonly isDockerHub: boolean;
}

/** The key under which every Docker Hub spelling is kept. */
const DOCKER_HUB_KEY = 'docker.io';

/** The spellings of Docker Hub that clients send: `docker login` uses the first, skopeo the second. */
const DOCKER_HUB_HOSTS = new Set(['index.docker.io', 'docker.io', 'registry-1.docker.io']);

const DEFAULT_PORT = 443;
const MAX_HOST_LENGTH = 253;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
// Printable ASCII without space: anything else in a server string is either an attack or a typo.
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

const invalid = (why: string): CredrelayError =>
  new CredrelayError('INVALID_SERVER_URL', `invalid registry server URL: ${why}`);

/**
 * Parses a server string as Docker, skopeo or kubelet send it: a bare `host[:port][/path]`, or an
 * `http`/`https` URL. The scheme and path are dropped (Docker sends `host`, `http://host` and `https://host`
 * for one registry), except that every Docker Hub spelling becomes one registry.
 *
 * The parser is deliberately stricter than a URL parser: it never decodes percent-escapes, never treats
 * backslashes as slashes and refuses userinfo, so no spelling can smuggle one host past a matcher as another.
 * Error messages never quote the input, which may be anything a caller pasted, including a password.
 */
export function parseRegistry(serverURL: string): RegistryIdentity {
  if (serverURL.length === 0) throw invalid('it is empty');
  if (!PRINTABLE_ASCII.test(serverURL)) {
    throw invalid('it contains whitespace, control or non-ASCII characters; pass a host such as registry.example:5000');
  }

  let rest = serverURL;
  const scheme = SCHEME.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'https' && name !== 'http') {
      throw invalid(`the scheme must be https or http, not ${JSON.stringify(name)}`);
    }
    rest = rest.slice(scheme[0].length);
  }

  const pathStart = rest.indexOf('/');
  const authority = pathStart === -1 ? rest : rest.slice(0, pathStart);
  if (authority.includes('@')) {
    throw invalid('user names and passwords (user@host) are not allowed in it; pass the registry host only');
  }
  if (authority.length === 0) throw invalid('it has no host');

  const { host, port } = splitHostPort(authority);
  const normalizedPort = port === DEFAULT_PORT ? undefined : port;
  const isDockerHub = normalizedPort === undefined && DOCKER_HUB_HOSTS.has(host);
  const key = isDockerHub ? DOCKER_HUB_KEY : normalizedPort === undefined ? host : `${host}:${normalizedPort}`;
  return Object.freeze({ host, port: normalizedPort, key, isDockerHub });
}

function splitHostPort(authority: string): { host: string; port: number | undefined } {
  let hostPart: string;
  let portPart: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) throw invalid('an IPv6 address is missing its closing "]"');
    hostPart = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) throw invalid('unexpected characters after the IPv6 address');
      portPart = after.slice(1);
    }
    return { host: normalizeIPv6(hostPart), port: parsePort(portPart) };
  }
  const colon = authority.indexOf(':');
  if (colon === -1) {
    hostPart = authority;
  } else {
    hostPart = authority.slice(0, colon);
    portPart = authority.slice(colon + 1);
  }
  return { host: normalizeHostName(hostPart), port: parsePort(portPart) };
}

function normalizeHostName(raw: string): string {
  const host = raw.toLowerCase();
  if (host.length === 0) throw invalid('it has no host');
  if (host.length > MAX_HOST_LENGTH) throw invalid(`the host is longer than ${MAX_HOST_LENGTH} characters`);
  for (const label of host.split('.')) {
    if (!DNS_LABEL.test(label)) {
      throw invalid(
        'the host must be DNS labels of letters, digits and inner hyphens separated by single dots (no trailing dot, no %, _ or \\)',
      );
    }
  }
  return host;
}

// Only hex digits, colons and an embedded IPv4 tail; zone ids (`%eth0`) make no sense for a registry.
const IPV6_BODY = /^[0-9a-f:.]+$/;

function normalizeIPv6(bracketed: string): string {
  const body = bracketed.slice(1, -1).toLowerCase();
  if (!IPV6_BODY.test(body)) throw invalid('the IPv6 address is malformed');
  let canonical: string;
  try {
    // The WHATWG parser is used only to canonicalise an address already restricted to [0-9a-f:.].
    canonical = new URL(`http://[${body}]/`).hostname;
  } catch {
    throw invalid('the IPv6 address is malformed');
  }
  return canonical;
}

function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(raw)) throw invalid('the port must be a number from 1 to 65535');
  const port = Number(raw);
  if (port < 1 || port > 65535) throw invalid('the port must be a number from 1 to 65535');
  return port;
}

/** A registry on this machine: loopback addresses and localhost, where Docker allows plain HTTP by default. */
export const isLoopback = (registry: RegistryIdentity): boolean => isLoopbackHost(registry.host);
