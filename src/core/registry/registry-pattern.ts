import { CredrelayError } from '../errors.js';
import { type RegistryIdentity, parseRegistry } from './identity.js';
import { shownValue } from '../util/redact.js';

/**
 * A `registries` key: one registry (any spelling the identity rules accept), or a glob in which `*` stands for
 * exactly one whole DNS label, as in kubelet's matchImages (`*.corp.example` matches `a.corp.example`, not
 * `corp.example` and not `a.b.corp.example`). A port, when written, must match exactly.
 *
 * Either may carry a repository path (`us-docker.pkg.dev/team-a`, `*.pkg.dev/team-a`, `ghcr.io/acme`): then it
 * routes only the repositories under that path, whole segments at a time (`team-a` takes `team-a/app`, not
 * `team-ab`). Docker's registry API paths (`/v1/`, `/v2/`, as in `https://index.docker.io/v1/`) are not repository
 * paths. `key` is the host key, then the path: `us-docker.pkg.dev/team-a`.
 */
export type RegistryPattern = (
  | { readonly kind: 'exact'; readonly key: string; readonly identity: RegistryIdentity }
  | {
      readonly kind: 'glob';
      readonly key: string;
      readonly labels: readonly string[];
      readonly port: number | undefined;
    }
) & {
  /** The repository path's segments; absent for a route of the whole registry. */
  readonly path?: readonly string[];
};

/** One segment of a repository path, as distribution/reference's grammar has it. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** Docker's registry API paths, which name the registry itself, not a repository. */
const API_PATH = /^\/?(?:v[12]\/?)?$/;

/** Splits a key into the registry part and its repository path's segments (none for a whole registry). */
function splitRepositoryPath(raw: string): { registry: string; path: string[] | undefined; bad?: string } {
  // Any scheme, so that the registry part is refused for it (parseRegistry takes http and https only).
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(raw)?.[0] ?? '';
  const rest = raw.slice(scheme.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return { registry: raw, path: undefined };
  const pathText = rest.slice(slash);
  if (API_PATH.test(pathText)) return { registry: raw, path: undefined };
  const segments = pathText.replace(/^\/|\/$/g, '').split('/');
  if (segments.some((segment) => !PATH_COMPONENT.test(segment)))
    return {
      registry: raw,
      path: undefined,
      bad: 'its repository path must be lower-case segments of letters, digits and . _ - separators (team-a/app)',
    };
  return { registry: scheme + rest.slice(0, slash), path: segments };
}

/** Parses a `registries` key; the error names the key and what a valid one looks like. */
export function parseRegistryPattern(raw: string): RegistryPattern {
  const { registry, path, bad } = splitRepositoryPath(raw);
  if (bad !== undefined)
    throw new CredrelayError('CONFIG_INVALID', `${shownValue(raw, 256)} is not a registry route: ${bad}`);
  const pattern = parseRegistryPart(registry, raw);
  return path === undefined ? pattern : { ...pattern, key: `${pattern.key}/${path.join('/')}`, path };
}

/** A registry, or one repository of it (`us-docker.pkg.dev/team-a/app`), as `credrelay route` takes it. */
export function parseRepositoryReference(text: string): {
  readonly registry: RegistryIdentity;
  readonly repository?: readonly string[];
} {
  const pattern = parseRegistryPattern(text);
  if (pattern.kind !== 'exact')
    throw new CredrelayError('INVALID_INPUT', `${shownValue(text, 256)} is a glob; name one registry or repository`);
  return pattern.path === undefined
    ? { registry: pattern.identity }
    : { registry: pattern.identity, repository: pattern.path };
}

/** Whether a route's repository path is a prefix of a repository's, whole segments at a time. */
export function pathCovers(path: readonly string[], repository: readonly string[]): boolean {
  return path.length <= repository.length && path.every((segment, index) => segment === repository[index]);
}

const GLOB_LABEL = /^(?:\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;

function parseRegistryPart(raw: string, written: string): RegistryPattern {
  if (!raw.includes('*')) {
    try {
      const identity = parseRegistry(raw);
      return { kind: 'exact', key: identity.key, identity };
    } catch (error) {
      throw new CredrelayError(
        'CONFIG_INVALID',
        `${shownValue(written, 256)} is not a registry: ${(error as Error).message}`,
      );
    }
  }
  const bad = (why: string) =>
    new CredrelayError(
      'CONFIG_INVALID',
      `${shownValue(written, 256)} is not a registry glob: ${why}; write one like "*.corp.example" or "*.corp.example:5000", where * is one whole DNS label`,
    );
  const withoutScheme = raw.replace(/^https?:\/\//i, '');
  if (withoutScheme.includes('/') && withoutScheme.indexOf('/') !== withoutScheme.length - 1)
    throw bad('it has a path');
  const authority = withoutScheme.replace(/\/$/, '');
  if (authority.includes('@')) throw bad('it has a user name');
  const [hostPart = '', portPart, ...rest] = authority.split(':');
  if (rest.length > 0) throw bad('it has more than one colon');
  const labels = hostPart.toLowerCase().split('.');
  if (labels.some((label) => !GLOB_LABEL.test(label))) throw bad('a label is not a DNS label or a lone *');
  if (labels.every((label) => label === '*')) throw bad('it matches every host');
  let port: number | undefined;
  if (portPart !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portPart) || Number(portPart) < 1 || Number(portPart) > 65535)
      throw bad('the port is not 1-65535');
    port = Number(portPart) === 443 ? undefined : Number(portPart);
  }
  return { kind: 'glob', key: `${labels.join('.')}${port === undefined ? '' : `:${port}`}`, labels, port };
}

/** Whether a glob matches a registry: same number of labels, each equal or `*`, and the same port. */
export function globMatches(pattern: Extract<RegistryPattern, { kind: 'glob' }>, registry: RegistryIdentity): boolean {
  if (pattern.port !== registry.port || registry.host.startsWith('[')) return false;
  const labels = registry.host.split('.');
  return (
    labels.length === pattern.labels.length && pattern.labels.every((label, i) => label === '*' || label === labels[i])
  );
}

/**
 * Orders globs from most to least specific: more literal labels first; then, reading from the right (DNS order),
 * the first label where one has a literal and the other a `*` decides. Two different globs that can match the same
 * host are therefore never tied.
 */
export function compareSpecificity(
  a: Extract<RegistryPattern, { kind: 'glob' }>,
  b: Extract<RegistryPattern, { kind: 'glob' }>,
): number {
  const literals = (p: typeof a) => p.labels.filter((label) => label !== '*').length;
  if (literals(a) !== literals(b)) return literals(b) - literals(a);
  for (let i = 1; i <= Math.min(a.labels.length, b.labels.length); i += 1) {
    const left = a.labels[a.labels.length - i] === '*';
    const right = b.labels[b.labels.length - i] === '*';
    if (left !== right) return left ? 1 : -1;
  }
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
