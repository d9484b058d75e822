import { CredrelayError, NETWORK_ERROR_CODES } from '../../src/plugin-api.js';

/** What was being attempted, for the message. */
export interface AwsAttempt {
  readonly registry: string;
  readonly region: string;
  readonly profile?: string | undefined;
  readonly roleArn?: string | undefined;
  /** A pod's service account whose token is exchanged for the role (`namespace/name`). */
  readonly pod?: string | undefined;
}

/**
 * Turns an AWS SDK failure into a message that says what failed and what to do. This is the point of the ECR
 * provider: the reference helper reports every one of these as "not found", which Docker shows as "no basic auth
 * credentials". AWS messages name identities and actions, never secret keys.
 */
export function explainAwsError(error: unknown, attempt: AwsAttempt): CredrelayError {
  if (error instanceof CredrelayError) return error;
  const details = error as {
    name?: string;
    message?: string;
    code?: string;
    Code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const name = details.name ?? 'Error';
  const message = (details.message ?? '').split('\n')[0]!.slice(0, 240);
  const code = details.code ?? details.Code ?? name;
  const who = attempt.pod
    ? `the web identity of service account ${attempt.pod}`
    : attempt.profile
      ? `AWS profile "${attempt.profile}"`
      : 'the default AWS credentials';
  const fail = (text: string) =>
    new CredrelayError('PROVIDER_FAILED', `ECR credentials for ${attempt.registry}: ${text}`);

  if (/sso/i.test(message) && /expired|refresh|invalid|login/i.test(message)) {
    return fail(
      `the AWS SSO session has expired or is missing: run \`aws sso login${attempt.profile ? ` --profile ${attempt.profile}` : ''}\` (${message})`,
    );
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return fail(
      `no AWS credentials found for ${who} (tried the environment, shared config and credentials files, SSO, web identity, and container/instance metadata): run \`aws configure\` or \`aws sso login\`, set AWS_PROFILE, or give the registry a "profile" in credrelay's config (${message})`,
    );
  }
  if (/ExpiredToken/i.test(code) || /expired/i.test(message)) {
    return fail(
      `the AWS session of ${who} has expired: refresh it (\`aws sso login\`, or export new temporary credentials) (${message})`,
    );
  }
  if (attempt.pod && /InvalidIdentityToken|IDPRejectedClaim|ExpiredToken/i.test(code)) {
    return fail(
      `AWS STS refused the token of service account ${attempt.pod} for ${attempt.roleArn} (${code}): the cluster's OIDC issuer must be an IAM identity provider, the role's trust policy must allow this service account, and kubelet's tokenAttributes audience must be sts.amazonaws.com (${message})`,
    );
  }
  if (/AccessDenied|UnauthorizedOperation/i.test(code)) {
    if (attempt.pod) {
      return fail(
        `AWS denied ${who} (${code}): the trust policy of ${attempt.roleArn} must allow sts:AssumeRoleWithWebIdentity for system:serviceaccount:${attempt.pod.replace('/', ':')}, and the role needs ecr:GetAuthorizationToken (${message})`,
      );
    }
    const action = attempt.roleArn
      ? `sts:AssumeRole on ${attempt.roleArn} and ecr:GetAuthorizationToken`
      : 'ecr:GetAuthorizationToken';
    return fail(`AWS denied the request (${code}): ${who} needs permission for ${action} (${message})`);
  }
  if (
    /UnrecognizedClient|InvalidClientTokenId|SignatureDoesNotMatch|InvalidSignature|IncompleteSignature/i.test(code)
  ) {
    return fail(
      `AWS rejected the credentials of ${who} (${code}): check the access key, or run \`aws sts get-caller-identity\` (${message})`,
    );
  }
  if (/Throttl|TooManyRequests|RequestLimitExceeded/i.test(code) || details.$metadata?.httpStatusCode === 429) {
    return fail(`AWS is throttling token requests (${code}) and retries did not get through: try again in a moment`);
  }
  if (NETWORK_ERROR_CODES.has(code) || name === 'TimeoutError' || /socket hang up|timed? ?out/i.test(message)) {
    return fail(
      `cannot reach the ECR endpoint for ${attempt.region} (${code === name ? message || name : code}): check the network and proxy settings, or AWS_ENDPOINT_URL_ECR`,
    );
  }
  return fail(
    `the AWS request failed (${name}${details.$metadata?.httpStatusCode ? `, HTTP ${details.$metadata.httpStatusCode}` : ''}): ${message || 'no message'}`,
  );
}
