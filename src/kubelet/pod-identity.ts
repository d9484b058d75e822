import { CredrelayError } from '../core/errors.js';
import type { PodIdentity } from '../core/provider.js';
import { jwtClaims } from '../core/util/jwt.js';

/** Bounds far above what Kubernetes issues (a token is 1-2 KiB; annotation keys 317 bytes at most). */
const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_ANNOTATIONS = 64;
const MAX_ANNOTATION_KEY_LENGTH = 317;
const MAX_ANNOTATION_VALUE_LENGTH = 4096;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const ANNOTATION_KEY = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const SERVICE_ACCOUNT_SUBJECT =
  /^system:serviceaccount:([a-z0-9](?:[a-z0-9-]*[a-z0-9])?):([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)$/;

const invalid = (why: string) => new CredrelayError('INVALID_INPUT', `the CredentialProviderRequest's ${why}`);

/**
 * The pod identity of a v1 CredentialProviderRequest (Kubernetes 1.33+): `serviceAccountToken` and
 * `serviceAccountAnnotations`, decoded strictly and bounded. Undefined when kubelet sent no token (no
 * `tokenAttributes` in its configuration, or a pod without a service account). Messages never quote the token.
 */
export function podIdentityOf(fields: Readonly<Record<string, unknown>>): PodIdentity | undefined {
  // kubelet's Go types have no omitempty: a request without a token carries "serviceAccountToken": "" and, without
  // annotations, "serviceAccountAnnotations": null.
  const { serviceAccountToken: token } = fields;
  const annotations = fields.serviceAccountAnnotations ?? {};
  if (!isPlainObject(annotations)) throw invalid('"serviceAccountAnnotations" must be an object of strings');
  if (token === undefined || token === null || token === '') return undefined;
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !JWT.test(token)) {
    throw invalid(`"serviceAccountToken" is not a service-account token (a JWT of at most ${MAX_TOKEN_LENGTH} bytes)`);
  }
  const claims = jwtClaims(token);
  const subject = SERVICE_ACCOUNT_SUBJECT.exec(typeof claims?.sub === 'string' ? claims.sub : '');
  if (subject === null) {
    throw invalid(
      '"serviceAccountToken" does not name a service account (its sub must be system:serviceaccount:NAMESPACE:NAME)',
    );
  }
  return Object.freeze({
    token,
    annotations: decodeAnnotations(annotations),
    namespace: subject[1]!,
    serviceAccount: subject[2]!,
  });
}

function decodeAnnotations(value: Record<string, unknown>): Readonly<Record<string, string>> {
  const entries = Object.entries(value);
  if (entries.length > MAX_ANNOTATIONS)
    throw invalid(`"serviceAccountAnnotations" has more than ${MAX_ANNOTATIONS} entries`);
  const decoded: Record<string, string> = Object.create(null);
  for (const [key, annotation] of entries) {
    if (key.length > MAX_ANNOTATION_KEY_LENGTH || !ANNOTATION_KEY.test(key))
      throw invalid('"serviceAccountAnnotations" has a key that is not a Kubernetes annotation key');
    if (typeof annotation !== 'string' || annotation.length > MAX_ANNOTATION_VALUE_LENGTH)
      throw invalid(
        `"serviceAccountAnnotations" values must be strings of at most ${MAX_ANNOTATION_VALUE_LENGTH} bytes`,
      );
    decoded[key] = annotation;
  }
  return Object.freeze(decoded);
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
