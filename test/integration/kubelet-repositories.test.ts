/**
 * Routes by repository path in kubelet mode: the kubelet names the whole image, so each repository of one registry
 * gets its own route's credential, whatever order the pods' images come in, as the kubelet caches answers (by image,
 * registry or globally) and matches their keys (its keyring's path-prefix rule). A Docker-protocol `get` for such a
 * registry names no repository, and is an explained error.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCredrelayConfig } from '../support/config.js';
import { CLI, run, runHelper } from '../support/helper.js';
import { serviceAccountToken } from '../support/jwt.js';
import { KubeletSim, keyMatches } from '../support/kubelet-sim.js';
import { stopCredrelayDaemon } from '../support/keyring.js';
import { freePort } from '../support/ports.js';
import { makeTempDir } from '../support/temp.js';

const dir = makeTempDir('kubelet-repositories');
const HOST = 'repo.example:5000';
const MIXED = 'mixed.example';
const HUB = 'pods.example';
const CONNECTION_A = '0b7a3f2e-5c4d-4e6f-8a9b-1c2d3e4f5a6b';
const CONNECTION_B = '1c8b4f3e-6d5e-4f7a-9b0c-2d3e4f5a6b7c';
let env: Record<string, string | undefined>;
let identity: { url: string; stop: () => Promise<void> };

/** An identity service minting one token per connection and pod (`sub`), so an answer shows which it was for. */
async function startIdentity() {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const form = new URLSearchParams(body);
      const claims = JSON.parse(Buffer.from(form.get('subject_token')!.split('.')[1]!, 'base64url').toString());
      const token = `tok-${form.get('connection_id')!.slice(0, 4)}-${createHash('sha256').update(claims.sub).digest('hex').slice(0, 8)}`;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token }));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

beforeAll(async () => {
  identity = await startIdentity();
  const pod = (connectionId: string, username: string) => ({
    provider: 'dockerhub',
    username,
    connectionId,
    identityUrl: identity.url,
  });
  writeCredrelayConfig(join(dir.path, 'config'), {
    registries: {
      [`${HOST}/team-a`]: { provider: 'static', username: 'robot-a', password: '$TEAM_A_TOKEN' },
      [`${HOST}/team-b`]: { provider: 'static', username: 'robot-b', password: '$TEAM_B_TOKEN' },
      [MIXED]: { provider: 'static', username: 'robot-host', password: '$HOST_TOKEN' },
      [`${MIXED}/team-a`]: { provider: 'static', username: 'robot-a', password: '$TEAM_A_TOKEN' },
      [`${HUB}/team-a`]: pod(CONNECTION_A, 'org-a'),
      [`${HUB}/team-b`]: pod(CONNECTION_B, 'org-b'),
    },
  });
  env = {
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    XDG_RUNTIME_DIR: join(dir.path, 'run'),
    XDG_STATE_HOME: join(dir.path, 'state'),
    DBUS_SESSION_BUS_ADDRESS: undefined,
    TEAM_A_TOKEN: 'team-a-token',
    TEAM_B_TOKEN: 'team-b-token',
    HOST_TOKEN: 'host-token',
  };
});
afterAll(async () => {
  await stopCredrelayDaemon(join(dir.path, 'run', 'credrelay'));
  await identity?.stop();
  dir.remove();
});

/** The plugin as kubelet runs it, for one image (and a pod's token). */
const plugin =
  (extra: Record<string, string> = {}, token?: string) =>
  async (image: string) => {
    const request = {
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderRequest',
      image,
      ...(token === undefined ? {} : { serviceAccountToken: token, serviceAccountAnnotations: {} }),
    };
    const result = await runHelper('kubelet', JSON.stringify(request), { ...env, ...extra });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };

describe('the kubelet keyring rule, as the simulator plays it', () => {
  it.each([
    ['repo.example:5000/team-a', 'repo.example:5000/team-a/app:1', true],
    ['repo.example:5000/team-a', 'repo.example:5000/team-b/app:1', false],
    ['repo.example:5000', 'repo.example:5000/team-b/app:1', true],
    ['repo.example:5000', 'repo.example:5001/team-b/app:1', false],
    ['*.example:5000/team-a', 'repo.example:5000/team-a/app', true],
  ])('%s matches %s: %s', (key, image, expected) => expect(keyMatches(key, image)).toBe(expected));
});

describe.each([
  ['through the daemon', {}],
  ['in-process', { CREDRELAY_NO_DAEMON: '1' }],
] as const)('routes by repository in kubelet mode, %s', (_mode, extra) => {
  const teamA = { username: 'robot-a', password: 'team-a-token' };
  const teamB = { username: 'robot-b', password: 'team-b-token' };
  const images: Array<[string, typeof teamA]> = [
    [`${HOST}/team-a/app:1`, teamA],
    [`${HOST}/team-b/app:1`, teamB],
    [`${HOST}/team-a/worker:2`, teamA],
    [`${HOST}/team-b/tools/cli@sha256:${'a'.repeat(64)}`, teamB],
  ];

  for (const order of ['in order', 'reversed'] as const) {
    it(`two repositories of one registry, ${order}: each image gets its repository's credential`, async () => {
      const kubelet = new KubeletSim(plugin(extra));
      const sequence = order === 'in order' ? images : [...images].reverse();
      for (const [image, expected] of [...sequence, ...sequence]) {
        expect(await kubelet.credentialFor(image), image).toEqual(expected);
      }
      // Answers are cached per image: each image asked once, however often it is pulled.
      expect(kubelet.execs).toBe(images.length);
    });
  }

  it('a host route beside a path route: the path route for its repositories, the host route for the rest', async () => {
    const host = { username: 'robot-host', password: 'host-token' };
    for (const sequence of [
      [`${MIXED}/team-a/app`, `${MIXED}/other/app`, `${MIXED}/team-a/x`, `${MIXED}/team-ab/app`],
      [`${MIXED}/other/app`, `${MIXED}/team-ab/app`, `${MIXED}/team-a/app`, `${MIXED}/team-a/x`],
    ]) {
      const kubelet = new KubeletSim(plugin(extra));
      for (const image of sequence) {
        const expected = /\/team-a\//.test(image) ? teamA : host;
        expect(await kubelet.credentialFor(image), image).toEqual(expected);
      }
    }
  });

  it("with pod identity: each repository's route acts as the pod, with its own connection", async () => {
    const token = serviceAccountToken('ci', 'puller', 'https://identity.docker.com');
    const kubelet = new KubeletSim(plugin(extra, token));
    const a = await kubelet.credentialFor(`${HUB}/team-a/app:1`);
    const b = await kubelet.credentialFor(`${HUB}/team-b/app:1`);
    expect(a).toMatchObject({ username: 'org-a', password: expect.stringMatching(/^tok-0b7a-/) });
    expect(b).toMatchObject({ username: 'org-b', password: expect.stringMatching(/^tok-1c8b-/) });
    expect(a!.password.slice(-8)).toBe(b!.password.slice(-8)); // the same pod, through two connections
  });
});

describe("Docker's protocol for a registry only path routes take", () => {
  it("get is an explained error, never one repository's credential; list does not name it; route and doctor say why", async () => {
    for (const extra of [{}, { CREDRELAY_NO_DAEMON: '1' }]) {
      const got = await runHelper('get', HOST, { ...env, ...extra });
      expect(got.code).toBe(1);
      expect(got.stdout).toMatch(
        /^routes for repo\.example:5000 differ by repository \(repo\.example:5000\/team-a, repo\.example:5000\/team-b\); Docker asks per registry/,
      );
      expect(got.stdout).not.toContain('token');
      const listed = JSON.parse((await runHelper('list', '', { ...env, ...extra })).stdout) as Record<string, string>;
      expect(Object.keys(listed)).toEqual([MIXED]);
    }
    const routed = await run(CLI, ['route', `${HOST}/team-b/app`], { env });
    expect(routed.stdout).toMatch(
      /^routed by +the registries entry "repo\.example:5000\/team-b" \(the repositories under team-b\)/m,
    );
    const whole = await run(CLI, ['route', HOST], { env });
    expect(whole.stdout).toMatch(/^routed by +nothing for the registry as a whole/m);
    const doctor = await run(CLI, ['doctor'], { env });
    expect(doctor.stdout).toMatch(
      /^! routes for repo\.example:5000 +docker, BuildKit, podman, buildah and skopeo ask per registry/m,
    );
  });
});
