import { CredrelayError, isCredrelayError, toCredrelayError } from '../core/errors.js';
import type { ProtocolReply, RequestContext } from '../core/protocol/handler.js';
import type { Router } from '../routing/router.js';
import { authKeyOf, parseImage } from './image-registry.js';
import { MAX_KUBELET_REQUEST_BYTES } from '../core/protocol/kubelet-limits.js';
import { shownValue } from '../core/util/redact.js';
import type { PodIdentity } from '../core/provider.js';
import { podIdentityOf } from './pod-identity.js';

/** The API versions of kubelet's image credential provider protocol credrelay speaks; the reply echoes the request's. */
const KUBELET_API_VERSIONS = [
  'credentialprovider.kubelet.k8s.io/v1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
] as const;

interface CredentialProviderRequest {
  readonly apiVersion: (typeof KUBELET_API_VERSIONS)[number];
  readonly image: string;
  /** The pod's identity, when kubelet passed its service-account token (v1, Kubernetes 1.33+). */
  readonly pod: PodIdentity | undefined;
}

/**
 * Formats a duration as Go's time.Duration.String() does for whole seconds ("12h0m0s", "5m30s", "45s", "0s"),
 * because kubelet decodes cacheDuration with Go's duration parser.
 */
export function goDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * How long kubelet may cache a credential: half of its remaining lifetime, at least one second while it is still
 * valid, never longer than it lasts, "0s" (do not cache) once it has expired. Undefined for a credential with no
 * known expiry, so that kubelet uses its configured defaultCacheDuration.
 */
export function cacheDurationFor(expiresAt: Date | undefined, now: number): string | undefined {
  if (expiresAt === undefined) return undefined;
  const remainingSeconds = (expiresAt.getTime() - now) / 1000;
  if (remainingSeconds < 1) return '0s';
  return goDuration(Math.min(Math.max(1, remainingSeconds / 2), remainingSeconds));
}

function decodeRequest(input: Uint8Array): CredentialProviderRequest {
  if (input.byteLength > MAX_KUBELET_REQUEST_BYTES) {
    throw new CredrelayError('INPUT_TOO_LARGE', 'the CredentialProviderRequest on stdin is larger than 1 MiB');
  }
  let request: unknown;
  try {
    request = JSON.parse(new TextDecoder().decode(input));
  } catch {
    throw new CredrelayError(
      'INVALID_INPUT',
      'stdin is not a JSON CredentialProviderRequest (kubelet sends {"apiVersion", "kind", "image"})',
    );
  }
  const fields = (typeof request === 'object' && request !== null && !Array.isArray(request) ? request : {}) as Record<
    string,
    unknown
  >;
  if (!KUBELET_API_VERSIONS.includes(fields.apiVersion as never)) {
    throw new CredrelayError(
      'INVALID_INPUT',
      `unsupported apiVersion ${shownValue(fields.apiVersion)}; credrelay speaks ${KUBELET_API_VERSIONS.join(' and ')}`,
    );
  }
  if (fields.kind !== 'CredentialProviderRequest') {
    throw new CredrelayError('INVALID_INPUT', `kind must be CredentialProviderRequest, not ${shownValue(fields.kind)}`);
  }
  if (typeof fields.image !== 'string') throw new CredrelayError('INVALID_INPUT', 'the request has no "image"');
  return {
    apiVersion: fields.apiVersion as CredentialProviderRequest['apiVersion'],
    image: fields.image,
    // The pod's identity is a v1 field (Kubernetes 1.33+); v1beta1 has none.
    pod: fields.apiVersion === 'credentialprovider.kubelet.k8s.io/v1' ? podIdentityOf(fields) : undefined,
  };
}

/**
 * Answers one kubelet image credential provider request. The image's registry is routed exactly as for `get`. An
 * image that no provider serves gets an empty `auth` and exit 0 (kubelet then pulls anonymously); any failure is one
 * line on stderr and exit 1, because kubelet reads errors from stderr and only a response from stdout.
 */
export async function handleKubeletRequest(
  input: Uint8Array,
  router: Router,
  now: () => number = Date.now,
): Promise<ProtocolReply> {
  const notices: string[] = [];
  const context: RequestContext = { notice: (line) => notices.push(`${line}\n`) };
  try {
    const request = decodeRequest(input);
    let registry;
    let repository: string[];
    try {
      ({ registry, repository } = parseImage(request.image));
    } catch (error) {
      // No credential for what is not an image reference, and a line saying why: kubelet's pull fails on it anyway.
      const empty = {
        apiVersion: request.apiVersion,
        kind: 'CredentialProviderResponse',
        cacheKeyType: 'Registry',
        auth: {},
      };
      return {
        stdout: `${JSON.stringify(empty)}\n`,
        stderr: `credrelay: ${toCredrelayError(error).message}\n`,
        exitCode: 0,
      };
    }
    const decision = router.decide(registry, repository);
    const credential = await router
      .credentialFor(registry, context, request.pod, repository)
      .catch((error: unknown) => {
        // A node has no keychain (no D-Bus): for an image no route serves, which only the keychain could have served,
        // that is "nothing", as the docs promise, not a failure kubelet would log and never cache.
        if (!isCredrelayError(error, 'KEYCHAIN_UNAVAILABLE') || decision.reason.kind !== 'fallback') throw error;
        context.notice(
          `credrelay: no route serves ${registry.key} and the OS keychain cannot be reached here: no credential (${toCredrelayError(error).message})`,
        );
        return undefined;
      });
    const cacheDuration = credential === undefined ? undefined : cacheDurationFor(credential.expiresAt, now());
    // Where a registry's repositories have routes of their own, the answer holds for this image only: kubelet caches
    // it per image (cacheKeyType Image), so an image of another repository asks again and gets its own route's
    // credential, whatever order the pods' images come in; its key is the route's path, which kubelet's keyring
    // matches as a prefix of the image's path. Otherwise one answer serves the whole registry.
    const perRepository = decision.pathRoutes.length > 0;
    const response = {
      apiVersion: request.apiVersion,
      kind: 'CredentialProviderResponse',
      cacheKeyType: perRepository ? 'Image' : 'Registry',
      ...(cacheDuration === undefined ? {} : { cacheDuration }),
      auth:
        credential === undefined
          ? {}
          : {
              [authKeyOf(registry, decision.path)]: { username: credential.username, password: credential.secret },
            },
    };
    return { stdout: `${JSON.stringify(response)}\n`, stderr: notices.join(''), exitCode: 0 };
  } catch (error) {
    return { stdout: '', stderr: `${notices.join('')}credrelay: ${toCredrelayError(error).message}\n`, exitCode: 1 };
  }
}
