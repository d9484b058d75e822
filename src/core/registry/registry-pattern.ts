import { CredrelayError } from '../errors.js';
import { type RegistryIdentity, parseRegistry } from './identity.js';
import { shownValue } from '../util/redact.js';

/**
 * A `registries` key: one registry (any spelling the identity rules accept), or a glob in which `*` stands for
 * exactly one whole DNS label, as in kubelet's matchImages (`*.corp.example` matches `a.corp.example`, not
 * `corp.example` and not `a.b.corp.example`). A port, when written, must match exactly.
 */
export type RegistryPattern =
  | { readonly kind: 'exact'; readonly key: string; readonly identity: RegistryIdentity }
  | {
      readonly kind: 'glob';
      readonly key: string;
      readonly labels: readonly string[];
      readonly port: number | undefined;
    };

const GLOB_LABEL = /^(?:\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;

/** Parses a `registries` key; the error names the key and what a valid one looks like. */
export function parseRegistryPattern(raw: string): RegistryPattern {
  if (!raw.includes('*')) {
    try {
      const identity = parseRegistry(raw);
      return { kind: 'exact', key: identity.key, identity };
    } catch (error) {
      throw new CredrelayError(
        'CONFIG_INVALID',
        `${shownValue(raw, 256)} is not a registry: ${(error as Error).message}`,
      );
    }
  }
  const bad = (why: string) =>
    new CredrelayError(
      'CONFIG_INVALID',
      `${shownValue(raw, 256)} is not a registry glob: ${why}; write one like "*.corp.example" or "*.corp.example:5000", where * is one whole DNS label`,
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
