import {
  type Credential,
  CredrelayError,
  type PodIdentity,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  type RegistryPattern,
  stringOption,
} from '../../src/plugin-api.js';
import { ECR_PUBLIC_HOST, ECR_PUBLIC_REGION, parseEcrHost } from './ecr-host.js';
import { type EcrTokenRequest, awsCallerIdentity, fetchEcrToken } from './token-source.js';

const ACCOUNT = /^\d{12}$/;
/**
 * The annotations naming the role a service account's pods pull as, in the order they are read: the one
 * cloud-provider-aws's ECR plugin reads for image pulls, then the one EKS's IAM roles for service accounts use for
 * everything else, which most clusters already set.
 */
const ROLE_ARN_ANNOTATIONS = ['eks.amazonaws.com/ecr-role-arn', 'eks.amazonaws.com/role-arn'] as const;
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const ANNOTATION_KEY = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const REGION = /^[a-z]{2,}(?:-[a-z]+)+-\d{1,2}$/;

interface EcrProviderOptions {
  /** Replaces the AWS exchange in unit tests. */
  readonly fetchToken?: (request: EcrTokenRequest) => Promise<Credential>;
}

/**
 * Amazon ECR: short-lived tokens (12 hours) from GetAuthorizationToken, minted with the AWS default credential
 * chain, a named profile, or an assumed role. A `registries` entry can also point a custom domain or a pull-through
 * proxy at an ECR account with `registryId` and `region`.
 */
export function createEcrProvider(dependencies: EcrProviderOptions = {}): Provider {
  const fetchToken = dependencies.fetchToken ?? fetchEcrToken;

  const requestFor = (registry: RegistryIdentity, options: Readonly<Record<string, unknown>>): EcrTokenRequest => {
    const host = parseEcrHost(registry);
    const registryId = stringOption(options, 'registryId');
    const region = stringOption(options, 'region');
    const common = {
      registry: registry.key,
      profile: stringOption(options, 'profile'),
      roleArn: stringOption(options, 'roleArn'),
      externalId: stringOption(options, 'externalId'),
      sessionName: stringOption(options, 'sessionName'),
    };
    if (host?.kind === 'public')
      return { ...common, kind: 'public', region: ECR_PUBLIC_REGION, fips: false, dualStack: false };
    if (host?.kind === 'private') {
      return {
        ...common,
        kind: 'private',
        accountId: registryId ?? host.accountId,
        region: region ?? host.region,
        fips: host.fips,
        dualStack: host.dualStack,
      };
    }
    if (registryId === undefined || region === undefined) {
      throw new CredrelayError(
        'CONFIG_INVALID',
        `${registry.key} is routed to the ecr provider but is not an ECR host: give its registries entry "registryId" (the 12-digit account) and "region"`,
      );
    }
    return { ...common, kind: 'private', accountId: registryId, region, fips: false, dualStack: false };
  };

  return {
    name: 'ecr',
    about: {
      description:
        'Amazon ECR and ECR Public: 12-hour tokens from the AWS credential chain, a profile or an assumed role',
      hostPatterns: [
        '<account>.dkr.ecr[-fips].<region>.amazonaws.com (and .com.cn, .eu, isolated partitions)',
        '<account>.dkr-ecr[-fips].<region>.on.aws (dual-stack)',
        ECR_PUBLIC_HOST,
      ],
      // The AWS SDK's credential chain, regions, profiles and endpoints (AWS_ENDPOINT_URL_<SERVICE> has no list).
      reads: ['AWS_*'],
    },
    routes: {
      listedUsername: () => 'AWS',
      options: {
        profile: { type: 'string', description: 'an AWS profile name from ~/.aws/config', pattern: /^[\w.+@-]+$/ },
        roleArn: {
          type: 'string',
          description:
            "an IAM role ARN such as arn:aws:iam::123456789012:role/pull (assumed with a pod's token in kubelet mode)",
          pattern: ROLE_ARN,
        },
        roleArnAnnotation: {
          type: 'string',
          description: `the service-account annotation naming a pod's role (default ${ROLE_ARN_ANNOTATIONS.join(', then ')})`,
          pattern: ANNOTATION_KEY,
        },
        externalId: {
          type: 'string',
          description: 'the external ID the role requires (2-1224 characters)',
          pattern: /^[\w+=,.@:/-]{2,1224}$/,
        },
        sessionName: {
          type: 'string',
          description: 'a role session name (2-64 of letters, digits and +=,.@-)',
          pattern: /^[\w+=,.@-]{2,64}$/,
        },
        region: { type: 'string', description: 'an AWS region such as us-east-1', pattern: REGION },
        registryId: {
          type: 'string',
          description: 'the 12-digit AWS account whose registry this is',
          pattern: ACCOUNT,
        },
      },
      check(pattern: RegistryPattern, options) {
        if (options.externalId !== undefined && options.roleArn === undefined)
          return 'option "externalId" needs "roleArn"';
        if (options.sessionName !== undefined && options.roleArn === undefined)
          return 'option "sessionName" needs "roleArn"';
        const isEcrHost = pattern.kind === 'exact' && parseEcrHost(pattern.identity) !== undefined;
        if (!isEcrHost && (options.registryId === undefined || options.region === undefined)) {
          return 'is not an ECR host, so the ecr provider needs "registryId" (the 12-digit account) and "region" to know which registry it fronts';
        }
        return undefined;
      },
    },
    matches: (registry) => parseEcrHost(registry) !== undefined,
    cachePolicy: {
      identity(options) {
        // Readable in `credrelay cache list`, and distinct for every identity that could hold a different token.
        const parts = [
          ['profile', stringOption(options, 'profile') ?? process.env.AWS_PROFILE],
          ['role', stringOption(options, 'roleArn')],
          ['externalId', stringOption(options, 'externalId')],
          ['session', stringOption(options, 'sessionName')],
          ['account', stringOption(options, 'registryId')],
          ['region', stringOption(options, 'region')],
        ].filter(([, value]) => value !== undefined && value !== '');
        return parts.length === 0 ? 'default credentials' : parts.map(([key, value]) => `${key}=${value}`).join(' ');
      },
    },
    podIdentity: {
      uses: (pod, options) => podRoleArn(pod, options) !== undefined,
      annotations: roleArnAnnotations,
    },
    async get(registry: RegistryIdentity, context: ProviderContext) {
      const request = requestFor(registry, context.options);
      const pod = context.podIdentity;
      if (pod === undefined) return fetchToken(request);
      // As the pod: its token for the role its service account names (or the route's), then GetAuthorizationToken
      // with the temporary credentials.
      return fetchToken({
        ...request,
        profile: undefined,
        externalId: undefined,
        roleArn: podRoleArn(pod, context.options),
        webIdentity: {
          token: pod.token,
          sessionName: `${pod.namespace}.${pod.serviceAccount}`.slice(0, 64),
          pod: `${pod.namespace}/${pod.serviceAccount}`,
        },
      });
    },
    diagnostics: {
      async diagnose(registry, context) {
        return awsCallerIdentity(requestFor(registry, context.options));
      },
    },
  };
}

/** The annotations a route reads for a pod's role: its own `roleArnAnnotation`, else the two EKS uses. */
function roleArnAnnotations(options: Readonly<Record<string, unknown>>): readonly string[] {
  const named = stringOption(options, 'roleArnAnnotation');
  return named === undefined ? ROLE_ARN_ANNOTATIONS : [named];
}

/** The role a pod pulls as: its service account's annotation (the first present), else the route's `roleArn`. */
function podRoleArn(pod: PodIdentity, options: Readonly<Record<string, unknown>>): string | undefined {
  const key = roleArnAnnotations(options).find((candidate) => pod.annotations[candidate] !== undefined);
  const annotated = key === undefined ? undefined : pod.annotations[key];
  if (key === undefined || annotated === undefined) return stringOption(options, 'roleArn');
  if (!ROLE_ARN.test(annotated)) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `service account ${pod.namespace}/${pod.serviceAccount} has a ${key} annotation that is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`,
    );
  }
  return annotated;
}
