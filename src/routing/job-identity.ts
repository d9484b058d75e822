import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { JobIdentitySetting } from '../core/config.js';
import { CredrelayError } from '../core/errors.js';
import type { PodIdentity } from '../core/provider.js';
import { httpExchange } from '../core/util/http.js';
import { jwtClaims, jwtExpiry } from '../core/util/jwt.js';
import { foreignExcerpt } from '../core/util/redact.js';

/** How long the token service may take; it answers from the runner's own service, in milliseconds usually. */
const JOB_TOKEN_DEADLINE_MS = 10_000;
/** A token this close to its `exp` is fetched again: the exchange after it must still accept it. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;

/**
 * A CI job's OIDC token as the identity a provider exchanges, in the shape of a pod's (PodIdentity): the providers'
 * pod exchanges (STS AssumeRoleWithWebIdentity, Google's STS and impersonation, Entra client assertions) take it
 * unchanged. `namespace`/`serviceAccount` name the job for session names and messages (`github` and
 * `owner.repo.run`), never a secret. The token is fetched with a deadline and kept in memory only, until shortly
 * before its `exp`; it is never logged (the router masks it) and no error quotes it.
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
        try {
          return (await readFile(setting.path, 'utf8')).trim();
        } catch (error) {
          throw new CredrelayError(
            'PROVIDER_FAILED',
            `no OIDC token in ${setting.path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path the platform mounts the token at`,
          );
        }
    }
  };

  return {
    async identity(setting) {
      const key = keyOf(setting);
      const cached = kept.get(key);
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
      if (expiresAt !== undefined) kept.set(key, { identity, renewAt: expiresAt - RENEW_BEFORE_EXPIRY_MS });
      return identity;
    },
  };
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
      `the GitHub Actions token service refused the request for audience ${audience} (HTTP ${answer.status}: ${foreignExcerpt(answer.body.replace(/"value"\s*:\s*"[^"]*"/g, ''), 120)}): check the job's \`permissions: id-token: write\``,
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
