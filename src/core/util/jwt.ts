/**
 * The claims of a token shaped like a JWT (three base64url parts), read without verifying its signature: credrelay
 * only learns from them what the issuer already told it (when the token expires, which tenant issued it), never
 * whether to trust it. Undefined for anything else.
 */
export function jwtClaims(token: string): Readonly<Record<string, unknown>> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1] === '') return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The `exp` of a token that is a JWT, when it is in the future; undefined for anything else. */
export function jwtExpiry(token: string, now = Date.now()): Date | undefined {
  const exp = jwtClaims(token)?.exp;
  return typeof exp === 'number' && exp * 1000 > now ? new Date(exp * 1000) : undefined;
}
