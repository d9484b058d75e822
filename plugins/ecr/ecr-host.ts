import { type RegistryIdentity } from '../../src/plugin-api.js';

/** An ECR registry as its host names it. */
type EcrRegistry =
  | {
      readonly kind: 'private';
      readonly accountId: string;
      readonly region: string;
      readonly fips: boolean;
      readonly dualStack: boolean;
    }
  | { readonly kind: 'public' };

/** The DNS suffixes of the AWS partitions that serve ECR (commercial, China, EU sovereign, dual-stack, isolated). */
const PARTITION_SUFFIX = String.raw`amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov`;

/**
 * `<12-digit account>.dkr.ecr[-fips].<region>.<partition suffix>`, and the dual-stack `dkr-ecr` form. Anchored at
 * both ends and applied to the parsed host only (lower-case, no port, no userinfo, no path), so a spoofed host such
 * as `….amazonaws.com.attacker.example` or `….amazonaws.comattacker.example` cannot match.
 */
const PRIVATE_HOST = new RegExp(
  String.raw`^(\d{12})\.dkr([.-])ecr(-fips)?\.([a-z]{2,}(?:-[a-z]+)+-\d{1,2})\.(${PARTITION_SUFFIX})$`,
);

export const ECR_PUBLIC_HOST = 'public.ecr.aws';
/** ECR Public issues its tokens from us-east-1 only. */
export const ECR_PUBLIC_REGION = 'us-east-1';

/** The ECR registry a parsed identity names, or undefined when it is not an ECR host (on port 443). */
export function parseEcrHost(registry: RegistryIdentity): EcrRegistry | undefined {
  if (registry.port !== undefined) return undefined;
  if (registry.host === ECR_PUBLIC_HOST) return { kind: 'public' };
  const match = PRIVATE_HOST.exec(registry.host);
  if (match === null) return undefined;
  const [, accountId = '', separator = '', fips, region = '', suffix = ''] = match;
  return {
    kind: 'private',
    accountId,
    region,
    fips: fips !== undefined,
    dualStack: separator === '-' || suffix.startsWith('on.'),
  };
}
