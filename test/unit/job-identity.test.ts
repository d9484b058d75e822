import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { createJobTokens, describeJobIdentity } from '../../src/routing/job-identity.js';
import { unsignedJwt } from '../support/jwt.js';
import { makeTempDir } from '../support/temp.js';

const scratch = makeTempDir('job-identity');
afterAll(() => scratch.remove());
const jwt = (exp: number) => unsignedJwt({ sub: 'project_path:group/app:ref_type:branch:ref:main', aud: 'x', exp });

describe('a CI job token source', () => {
  it('GitLab: the id_tokens variable the route names, and the job as a session name', async () => {
    const token = jwt(Math.floor(Date.now() / 1000) + 600);
    const tokens = createJobTokens({ GITLAB_OIDC_TOKEN: token, CI_PROJECT_PATH: 'group/app', CI_PIPELINE_ID: '77' });
    expect(await tokens.identity({ source: 'gitlab', variable: 'GITLAB_OIDC_TOKEN' })).toEqual({
      token,
      annotations: {},
      namespace: 'gitlab',
      serviceAccount: 'group.app.77',
    });
    await expect(createJobTokens({}).identity({ source: 'gitlab', variable: 'GITLAB_OIDC_TOKEN' })).rejects.toThrow(
      /GITLAB_OIDC_TOKEN is not set; declare it under the job's id_tokens/,
    );
  });

  it('a file a platform mounts is read for every request: the next job on the agent is itself at once', async () => {
    const path = join(scratch.path, 'token');
    const now = Date.now();
    const tokens = createJobTokens({}, () => now);
    writeFileSync(path, `${jwt(Math.floor(now / 1000) + 600)}\n`, { mode: 0o600 });
    const first = await tokens.identity({ source: 'file', path });
    // The next job writes its own token, long before the first one's exp.
    writeFileSync(path, jwt(Math.floor(now / 1000) + 1200));
    expect((await tokens.identity({ source: 'file', path })).token).not.toBe(first.token);
    await expect(tokens.identity({ source: 'file', path: join(scratch.path, 'none') })).rejects.toThrow(
      /no OIDC token in .*none \(ENOENT\)/,
    );
  });

  it('refuses a token file others can write, a FIFO and a directory at once, saying why', async () => {
    const tokens = createJobTokens({});
    const writable = join(scratch.path, 'writable-token');
    writeFileSync(writable, jwt(Math.floor(Date.now() / 1000) + 600));
    chmodSync(writable, 0o666);
    await expect(tokens.identity({ source: 'file', path: writable })).rejects.toThrow(
      /job token file .* is not used: .*can be written by others/,
    );
    const fifo = join(scratch.path, 'fifo-token');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await expect(tokens.identity({ source: 'file', path: fifo })).rejects.toThrow(/is not a regular file/);
    await expect(tokens.identity({ source: 'file', path: scratch.path })).rejects.toThrow(/is not a regular file/);
    const big = join(scratch.path, 'big-token');
    writeFileSync(big, 'x'.repeat(70_000), { mode: 0o600 });
    await expect(tokens.identity({ source: 'file', path: big })).rejects.toThrow(/more than an ID token/);
  });

  it('reads a GitLab variable for every request', async () => {
    const now = Date.now();
    const token = jwt(Math.floor(now / 1000) + 600);
    const env: Record<string, string> = { T: token };
    const tokens = createJobTokens(env, () => now);
    expect((await tokens.identity({ source: 'gitlab', variable: 'T' })).token).toBe(token);
    env.T = jwt(Math.floor(now / 1000) + 900);
    expect((await tokens.identity({ source: 'gitlab', variable: 'T' })).token).toBe(env.T);
  });

  it('refuses a token that is not a JWT, without quoting it', async () => {
    const error = await createJobTokens({ T: 'not-a-jwt-CANARY' })
      .identity({ source: 'gitlab', variable: 'T' })
      .then(
        () => new Error('no error'),
        (caught: Error) => caught,
      );
    expect(error.message).toMatch(/is not a JWT/);
    expect(error.message).not.toContain('CANARY');
  });

  it('is configured strictly per route, and described without the token', () => {
    const parse = (jobIdentity: unknown) =>
      parseConfig({ registries: { 'r.example': { provider: 'ecr', jobIdentity } } }, '/c.json');
    expect(parse({ source: 'github-actions', audience: 'sts.amazonaws.com' }).registries[0]?.jobIdentity).toEqual({
      source: 'github-actions',
      audience: 'sts.amazonaws.com',
    });
    for (const bad of [
      { source: 'github-actions' },
      { source: 'gitlab', variable: '1x' },
      { source: 'file', path: 'rel' },
      'x',
    ])
      expect(() => parse(bad)).toThrow(/"jobIdentity" must be/);
    const gitlab = { source: 'gitlab', variable: 'GITLAB_OIDC_TOKEN' } as const;
    expect(describeJobIdentity(gitlab, { GITLAB_OIDC_TOKEN: 'secret-value' })).toEqual({
      available: true,
      text: "pulls as this CI job's OIDC token (GitLab CI id_tokens variable GITLAB_OIDC_TOKEN); GITLAB_OIDC_TOKEN is set",
    });
    expect(describeJobIdentity(gitlab, {})).toEqual({
      available: false,
      text: "pulls as this CI job's OIDC token (GitLab CI id_tokens variable GITLAB_OIDC_TOKEN); not available here: GITLAB_OIDC_TOKEN is not set (declare it under the job's id_tokens)",
    });
  });
});
