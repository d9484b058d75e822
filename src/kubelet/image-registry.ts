import { CredrelayError } from '../errors.js';
import { type RegistryIdentity, parseRegistry } from '../registry/identity.js';

const MAX_IMAGE_LENGTH = 4096;
const DIGEST = /@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * The registry of an image reference, by Docker's rule: the first path component is a registry when it contains a
 * `.` or a `:`, or is `localhost`; otherwise the image is on Docker Hub (`nginx`, `library/nginx`, `bitnami/redis`).
 */
export function registryOfImage(image: string): RegistryIdentity {
  if (image.length === 0 || image.length > MAX_IMAGE_LENGTH) {
    throw new CredrelayError('INVALID_INPUT', `the image reference must be 1 to ${MAX_IMAGE_LENGTH} characters`);
  }
  // Only a trailing digest (`@sha256:…`) is cut off; any other `@` stays, and the registry parser refuses userinfo.
  const name = image.replace(DIGEST, '');
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  try {
    return parseRegistry(hasRegistry ? first : 'docker.io');
  } catch (error) {
    throw new CredrelayError('INVALID_INPUT', `the image's registry is not valid: ${(error as Error).message}`);
  }
}

/** The key of kubelet's `auth` map for a registry: its host (and port), `docker.io` for Docker Hub. */
export const authKeyOf = (registry: RegistryIdentity): string => registry.key;
