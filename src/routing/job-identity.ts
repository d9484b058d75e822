import { existsSync } from 'node:fs';
import type { JobIdentitySetting } from '../core/config.js';
import { CredrelayError } from '../core/errors.js';
import type { PodIdentity } from '../core/provider.js';
import { nodeCrypto } from '../core/util/crypto.js';
import { httpExchange } from '../core/util/http.js';
import { jwtClaims, jwtExpiry } from '../core/util/jwt.js';
import { foreignExcerpt } from '../core/util/redact.js';
import { readTokenFile } from '../core/util/file-trust.js';

/** How long the token service may take; it answers from the runner's own service, in milliseconds usually. */
const JOB_TOKEN_DEADLINE_MS = 10_000;
/** A token this close to its `exp` is fetched again: the exchange after it must still accept it. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** The most a job token file may hold: an ID token is a few KiB. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * A CI job's OIDC token as the identity a provider exchanges, in the shape of a pod's (PodIdentity): the providers'
 * pod exchanges (STS AssumeRoleWithWebIdentity, Google's STS and impersonation, Entra client assertions) take it
 * unchanged. `namespace`/`serviceAccount` name the job for session names and messages (`github` and
 * `owner.repo.run`), never a secret, and never a cache key (the router keys by all the token's claims).
 *
 * The token is read for every request wherever the job can change it under a running daemon: a token file (the
 * platform rewrites it for each job on the agent) and a GitLab variable are read afresh each time; only GitHub
 * Actions' token, fetched from the job's own token service, is kept (in memory, until shortly before its `exp`),
 * since the service and its request token are the job's environment, which the daemon serves alone.
 */
export interface JobTokens {
  identity(setting: JobIdentitySetting): Promise<PodIdentity>;
}

export function createJobTokens(env: NodeJS.ProcessEnv = process.env, clock: () => number = Date.now): JobTokens {
  const kept = new Map<string, { identity: PodIdentity; renewAt: number }>();
  const keyOf = (setting: JobIdentitySetting) => JSON.stringify(setting);

  const fetchToken = async (setting: JobIdentitySetting): Promise<string> => {
    switch (setting.source) {
      case 'github-actions':
        return githubActionsToken(env, setting.audience);
      case 'gitlab': {
        const value = env[setting.variable];
        if (value === undefined || value === '') {
          throw new CredrelayError(
            'PROVIDER_FAILED',
            `no OIDC token for this GitLab job: ${setting.variable} is not set; declare it under the job's id_tokens (${setting.variable}: {aud: …}) in .gitlab-ci.yml`,
          );
        }
        return value.trim();
      }
      case 'file':
        return readJobTokenFile(setting.path);
    }
  };

  return {
    async identity(setting) {
      const key = keyOf(setting);
      const cached = setting.source === 'github-actions' ? kept.get(key) : undefined;
      if (cached !== undefined && clock() < cached.renewAt) return cached.identity;
      const token = await fetchToken(setting);
      const claims = jwtClaims(token);
      if (claims === undefined) {
        throw new CredrelayError(
          'PROVIDER_FAILED',
          `the ${setting.source} OIDC token is not a JWT: check that ${describeSource(setting)} holds the job's ID token`,
        );
      }
      const expiresAt = jwtExpiry(token)?.getTime();
      const identity: PodIdentity = { token, annotations: {}, ...jobName(setting, env, claims) };
      if (expiresAt !== undefined && setting.source === 'github-actions')
        kept.set(key, { identity, renewAt: expiresAt - RENEW_BEFORE_EXPIRY_MS });
      return identity;
    },
  };
}

/**
 * A job token file, read as readTokenFile reads one (trusted path, no blocking open, a regular file of bounded size),
 * so another local user cannot plant an identity and a FIFO planted at the path is refused at once instead of
 * hanging the request.
 */
function readJobTokenFile(path: string): string {
  const read = readTokenFile(
    path,
    { bytes: MAX_TOKEN_FILE_BYTES, what: 'an ID token' },
    'point "path" at the file the platform writes the token to',
  );
  if ('token' in read) return read.token;
  if ('missing' in read)
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `no OIDC token in ${path} (${read.missing}): check the path the platform mounts the token at`,
    );
  throw new CredrelayError(
    'PROVIDER_FAILED',
    `the job token file ${path} is not used: ${read.refused.reason}; ${read.refused.fix}`,
  );
}

const describeSource = (setting: JobIdentitySetting): string =>
  setting.source === 'github-actions'
    ? `GitHub Actions, audience ${setting.audience}`
    : setting.source === 'gitlab'
      ? `GitLab CI id_tokens variable ${setting.variable}`
      : `the file ${setting.path}`;

/** The job as a session name can carry it: `github` / `owner.repo.RUN`, `gitlab` / `group.project.PIPELINE`. */
function jobName(
  setting: JobIdentitySetting,
  env: NodeJS.ProcessEnv,
  claims: Readonly<Record<string, unknown>>,
): { namespace: string; serviceAccount: string } {
  const safe = (text: string) => text.replace(/[^\w+=,.@-]/g, '.').slice(0, 48);
  if (setting.source === 'github-actions' && env.GITHUB_REPOSITORY) {
    return { namespace: 'github', serviceAccount: safe(`${env.GITHUB_REPOSITORY}.${env.GITHUB_RUN_ID ?? 'run'}`) };
  }
  if (setting.source === 'gitlab' && env.CI_PROJECT_PATH) {
    return { namespace: 'gitlab', serviceAccount: safe(`${env.CI_PROJECT_PATH}.${env.CI_PIPELINE_ID ?? 'pipeline'}`) };
  }
  return { namespace: setting.source, serviceAccount: safe(typeof claims.sub === 'string' ? claims.sub : 'job') };
}

/**
 * GitHub Actions' token request, as @actions/core's getIDToken makes it: GET the request URL with `audience`
 * appended, `Authorization: bearer <request token>`, answer `{"value": "<JWT>"}`.
 */
async function githubActionsToken(env: NodeJS.ProcessEnv, audience: string): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !requestToken) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      'no OIDC token for this job: ACTIONS_ID_TOKEN_REQUEST_URL is not set, so the workflow does not grant it: add `permissions: id-token: write` to the job (or the workflow)',
    );
  }
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CredrelayError('PROVIDER_FAILED', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  target.searchParams.set('audience', audience);
  let answer;
  try {
    answer = await httpExchange(target.href, {
      headers: { authorization: `bearer ${requestToken}`, accept: 'application/json; api-version=2.0' },
      deadlineMs: JOB_TOKEN_DEADLINE_MS,
    });
  } catch (error) {
    if (error instanceof CredrelayError) throw error;
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `the GitHub Actions token service did not answer (${(error as NodeJS.ErrnoException).code ?? 'error'}): retry the job`,
    );
  }
  if (answer.status !== 200) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `the GitHub Actions token service refused the request for audience ${audience} (HTTP ${answer.status}: ${foreignExcerpt(
        answer.body
          .split(requestToken)
          .join('[token]')
          .replace(/"value"\s*:\s*"[^"]*"/g, ''),
        120,
      )}): check the job's \`permissions: id-token: write\``,
    );
  }
  let value: unknown;
  try {
    value = (JSON.parse(answer.body) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (typeof value !== 'string' || value === '') {
    throw new CredrelayError('PROVIDER_FAILED', 'the GitHub Actions token service answered without a token');
  }
  return value;
}

/** Which identity a `jobIdentity` route uses in this job, and whether this job can give it: never the token. */
export function describeJobIdentity(
  setting: JobIdentitySetting,
  env: NodeJS.ProcessEnv = process.env,
): { readonly available: boolean; readonly text: string } {
  const [available, why] =
    setting.source === 'github-actions'
      ? env.ACTIONS_ID_TOKEN_REQUEST_URL
        ? [true, 'the token service is reachable from this job']
        : [false, 'ACTIONS_ID_TOKEN_REQUEST_URL is not set (outside Actions, or no `permissions: id-token: write`)']
      : setting.source === 'gitlab'
        ? env[setting.variable]
          ? [true, `${setting.variable} is set`]
          : [false, `${setting.variable} is not set (declare it under the job's id_tokens)`]
        : existsSync(setting.path)
          ? [true, `${setting.path} exists`]
          : [false, `${setting.path} does not exist`];
  return {
    available,
    text: `pulls as this CI job's OIDC token (${describeSource(setting)}); ${available ? why : `not available here: ${why}`}`,
  };
}

/** Claims that change when the same job's token is renewed; every other claim names the job. */
const RENEWED_CLAIMS: ReadonlySet<string> = new Set(['iat', 'exp', 'nbf', 'jti', 'auth_time']);

/**
 * The part of a cache key that tells CI jobs apart: a digest of every claim of the job's token but its times (the
 * whole `iss`, `sub`, `aud`, `ref`, `job_workflow_ref`, ... whatever a trust policy may test), never a prefix. A
 * token that is not a JWT was refused before this.
 */
export function jobCacheIdentity(job: PodIdentity): string {
  const claims = jwtClaims(job.token) ?? { token: job.token };
  const named = Object.entries(claims)
    .filter(([name]) => !RENEWED_CLAIMS.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const digest = nodeCrypto().createHash('sha256').update(JSON.stringify(named)).digest('hex');
  return `job ${job.namespace}/${job.serviceAccount} sha256:${digest}`;
}
