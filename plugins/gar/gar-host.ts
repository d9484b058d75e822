import { type RegistryIdentity } from '../../src/plugin-api.js';

/** `gcr.io` and one label under it: `us.gcr.io`, `eu.gcr.io`, `asia.gcr.io`, `marketplace.gcr.io`, `mirror.gcr.io`… */
const CONTAINER_REGISTRY = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)?gcr\.io$/;
/** Artifact Registry: `<location>-docker.pkg.dev`, for any location (`us`, `europe-west4`…): no list to go stale. */
const ARTIFACT_REGISTRY = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*-docker\.pkg\.dev$/;
/** Artifact Registry regional endpoints: `docker.<location>.rep.pkg.dev`. */
const REGIONAL_ENDPOINT = /^docker\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.rep\.pkg\.dev$/;

/**
 * Whether a parsed registry is a Google container registry. Anchored patterns over the parsed host (lower-case, no
 * userinfo, no path) on port 443, so `gcr.io.attacker.example`, `evilgcr.io` and `us-docker.pkg.dev.attacker.example`
 * never match.
 */
export function isGoogleRegistry(registry: RegistryIdentity): boolean {
  if (registry.port !== undefined) return false;
  return (
    CONTAINER_REGISTRY.test(registry.host) ||
    ARTIFACT_REGISTRY.test(registry.host) ||
    REGIONAL_ENDPOINT.test(registry.host)
  );
}
