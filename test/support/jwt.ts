import { randomUUID } from 'node:crypto';

/** An unsigned JWT: what credrelay reads of a token is its claims; the endpoints here check tokens by value. */
export const unsignedJwt = (claims: Record<string, unknown>): string =>
  `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

/** A pod's projected service-account token, as kubelet passes it to a credential provider (KEP-4412). */
export function serviceAccountToken(namespace: string, name: string, audience: string): string {
  const now = Math.floor(Date.now() / 1000);
  return unsignedJwt({
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: `system:serviceaccount:${namespace}:${name}`,
    aud: [audience],
    iat: now,
    exp: now + 3600,
    jti: randomUUID(),
    'kubernetes.io': {
      namespace,
      serviceaccount: { name, uid: randomUUID() },
      pod: { name: `${name}-pod`, uid: randomUUID() },
    },
  });
}
