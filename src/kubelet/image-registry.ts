import { CredrelayError } from '../core/errors.js';
import { type RegistryIdentity, parseRegistry } from '../core/registry/identity.js';
import { shownValue } from '../core/util/redact.js';

const MAX_IMAGE_LENGTH = 4096;
/** distribution/reference's limit on a repository name, domain included. */
const MAX_NAME_LENGTH = 255;

// The grammar of distribution/reference (regexp.go), which kubelet and Docker parse image references with.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const NAME = `(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)`;
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;

/**
 * The registry of an image reference, exactly as distribution/reference's ParseNormalizedNamed finds it: the first
 * path component is the domain when it contains `.` or `:`, is `localhost`, or has an upper-case letter; otherwise
 * the image is on Docker Hub (`nginx`, `library/nginx`, `bitnami/redis`). The whole reference must then be valid
 * (lower-case repository, tag, digest), or it is refused: an invalid reference is given no credential.
 */
export function registryOfImage(image: string): RegistryIdentity {
  return parseImage(image).registry;
}

/**
 * An image reference's registry and its repository path's segments (`us-docker.pkg.dev/team-a/app:1` is
 * `us-docker.pkg.dev` and `team-a`, `app`; `nginx` is Docker Hub's `library`, `nginx`), parsed as registryOfImage
 * says.
 */
export function parseImage(image: string): { readonly registry: RegistryIdentity; readonly repository: string[] } {
  if (image.length === 0 || image.length > MAX_IMAGE_LENGTH) {
    throw new CredrelayError('INVALID_INPUT', `the image reference must be 1 to ${MAX_IMAGE_LENGTH} characters`);
  }
  const invalid = (why: string) =>
    new CredrelayError('INVALID_INPUT', `the image reference ${shownValue(image, 128)} is not valid: ${why}`);
  if (IDENTIFIER.test(image)) throw invalid('a 64-character hexadecimal name is an image ID, not a reference');
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const onDockerHub = slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first);
  const domain = onDockerHub ? 'docker.io' : first;
  const remainder = onDockerHub ? image : image.slice(slash + 1);
  const repository = remainder.split(/[:@]/)[0]!;
  if (repository.toLowerCase() !== repository) throw invalid('the repository name must be lower-case');
  const match = REFERENCE.exec(`${domain}/${remainder}`);
  if (match === null) throw invalid('it does not follow the reference grammar (registry/repository[:tag][@digest])');
  if (match[1]!.length > MAX_NAME_LENGTH) throw invalid(`the name is longer than ${MAX_NAME_LENGTH} characters`);
  let registry: RegistryIdentity;
  try {
    registry = parseRegistry(domain);
  } catch (error) {
    throw invalid(`its registry is not valid: ${(error as Error).message}`);
  }
  // Docker Hub's official images live under `library/` (ParseNormalizedNamed adds it).
  const segments = repository.split('/');
  return { registry, repository: onDockerHub && segments.length === 1 ? ['library', ...segments] : segments };
}

/**
 * The key of kubelet's `auth` map for a registry: its host (and port), `docker.io` for Docker Hub; with a route's
 * repository path, that path after it (`us-docker.pkg.dev/team-a`), which kubelet's keyring matches as a prefix of
 * the image's path.
 */
export const authKeyOf = (registry: RegistryIdentity, path?: readonly string[]): string =>
  path === undefined ? registry.key : `${registry.key}/${path.join('/')}`;
