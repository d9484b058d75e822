/**
 * The exec provider (any docker-credential helper behind credrelay's cache) and the ghcr provider, through the real
 * daemon and real clients: skopeo pushes and reads images from htpasswd registries with the credentials they give;
 * a fake helper counts its runs; `credrelay doctor` asks a token endpoint (GHCR's flow) on loopback.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, HELPER, pathWithCredrelay, run, runHelper } from '../support/helper.js';
import { configureDockerFor, writeCredrelayConfig } from '../support/config.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';

const GH_TOKEN = 'ghp_integration_token_4471';

let session: Keyring;
let wrapped: Registry;
let github: Registry;
let tokenEndpoint: Server;
let tokenHost: string;
let env: Record<string, string>;
let runs: string;

beforeAll(async () => {
  session = await startKeyring();
  [wrapped, github] = await Promise.all([
    startRegistry('wrapped-robot', 'wrapped-pass-8821'),
    startRegistry('octocat', GH_TOKEN),
  ]);
  // A docker-credential helper of another tool: it answers for one registry, slowly, and counts its runs.
  const bin = join(session.root, 'helpers');
  mkdirSync(bin);
  runs = join(session.root, 'helper-runs.log');
  writeFileSync(
    join(bin, 'docker-credential-fakehelper'),
    `#!/bin/sh
read -r server
echo "$1 $server" >> '${runs}'
sleep 0.3
if [ "$server" = "${wrapped.host}" ]; then
  printf '{"ServerURL":"%s","Username":"${wrapped.username}","Secret":"${wrapped.password}"}' "$server"
else
  echo "credentials not found in native keychain"; exit 1
fi
`,
  );
  chmodSync(join(bin, 'docker-credential-fakehelper'), 0o755);

  // GHCR's token flow on loopback: /token answers 200 to exactly one Basic user:token, 401 to anything else.
  tokenEndpoint = createServer((request, response) => {
    const expected = `Basic ${Buffer.from(`octocat:${GH_TOKEN}`).toString('base64')}`;
    response.writeHead(request.url?.startsWith('/token?') && request.headers.authorization === expected ? 200 : 401);
    response.end('{}');
  });
  await new Promise<void>((resolve) => tokenEndpoint.listen(0, '127.0.0.1', resolve));
  const address = tokenEndpoint.address();
  tokenHost = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;

  env = { ...session.env, PATH: `${bin}:${pathWithCredrelay()}`, GH_TOKEN, GITHUB_ACTOR: 'octocat' };
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      [wrapped.host]: { provider: 'exec', helper: 'fakehelper', cacheSeconds: 300 },
      'unknown-to-helper.example': { provider: 'exec', helper: 'fakehelper' },
      // A registry that speaks like GHCR, routed to the ghcr provider: the token from GH_TOKEN.
      [github.host]: { provider: 'ghcr' },
      [tokenHost]: { provider: 'ghcr', tokenSecret: '$GHCR_PAT', username: 'octocat' },
    },
  });
}, 120_000);
afterAll(async () => {
  await session?.stop();
  await Promise.all([wrapped?.stop(), github?.stop()]);
  await new Promise<void>((resolve) => tokenEndpoint?.close(() => resolve()));
});

const helperRuns = (): string[] => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean) : []);

describe('exec: an existing helper behind the daemon', () => {
  it('10 concurrent gets run the wrapped helper once, and later gets are answered from memory', async () => {
    await runHelper('erase', wrapped.host, env); // drops any cached answer: this test counts from zero
    const before = helperRuns().length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => runHelper('get', wrapped.host, env)));
    for (const answer of answers) {
      expect(JSON.parse(answer.stdout)).toEqual({
        ServerURL: wrapped.host,
        Username: wrapped.username,
        Secret: wrapped.password,
      });
    }
    expect(helperRuns().length - before).toBe(1);
    expect(helperRuns().at(-1)).toBe(`get ${wrapped.host}`);
    await runHelper('get', wrapped.host, env);
    expect(helperRuns().length - before).toBe(1);
  });

  it("skopeo pushes and reads an image with the helper's credential", async () => {
    const { pushed, inspected } = await pushAndInspect(wrapped.host, session.home, env);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(inspected.code).toBe(0);
  });

  it("the helper's not-found stays not-found, silently", async () => {
    const before = helperRuns().length;
    const other = await runHelper('get', 'unknown-to-helper.example', env);
    expect(other).toMatchObject({ code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' });
    expect(helperRuns().slice(before)).toEqual(['get unknown-to-helper.example']);
  });

  it('serves kubelet too', async () => {
    const result = await run(HELPER, ['kubelet'], {
      env,
      input: JSON.stringify({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderRequest',
        image: `${wrapped.host}/demo:v1`,
      }),
    });
    expect(JSON.parse(result.stdout).auth[wrapped.host]).toEqual({
      username: wrapped.username,
      password: wrapped.password,
    });
  });

  it('docker login to an exec route without "storage": true stores nothing and says so', async () => {
    const stored = await runHelper(
      'store',
      JSON.stringify({ ServerURL: wrapped.host, Username: 'u', Secret: 'not-kept' }),
      env,
    );
    expect(stored.code).toBe(0);
    expect(stored.stderr).toMatch(/through the exec provider without "storage": true; nothing was stored/);
  });
});

describe('ghcr', () => {
  it('skopeo pushes and reads an image with the token from GH_TOKEN and GITHUB_ACTOR', async () => {
    const { pushed, inspected } = await pushAndInspect(github.host, session.home, env, 'octocat/app:1');
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(inspected.code).toBe(0);
  });

  it('never hands the token to a spoof of ghcr.io', async () => {
    for (const spoof of ['ghcr.io.attacker.example', 'https://ghcr.io@attacker.example', 'ghcr.io:5000']) {
      const result = await runHelper('get', spoof, env);
      expect(result.stdout + result.stderr, spoof).not.toContain(GH_TOKEN);
    }
    const real = await runHelper('get', 'ghcr.io', env);
    expect(JSON.parse(real.stdout)).toEqual({ ServerURL: 'ghcr.io', Username: 'octocat', Secret: GH_TOKEN });
  });

  it('doctor finds the token source and asks the token endpoint whether it accepts it', async () => {
    await run(CLI, ['secrets', 'set', 'GHCR_PAT'], { env, input: GH_TOKEN });
    const good = await run(CLI, ['doctor'], { env });
    expect(good.stdout).toMatch(
      new RegExp(
        `^✓ ghcr for ${tokenHost.replace(/\./g, '\\.')} +a token from the route's secret for octocat; ${tokenHost.replace(/\./g, '\\.')} accepts it$`,
        'm',
      ),
    );
    await run(CLI, ['secrets', 'set', 'GHCR_PAT'], { env, input: 'ghp_revoked' });
    const bad = await run(CLI, ['doctor'], { env });
    expect(bad.stdout).toMatch(/^✗ ghcr for 127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ refused the token \(HTTP 401\)/m);
    expect(bad.stdout + bad.stderr).not.toContain('ghp_revoked');
    expect(good.stdout + good.stderr).not.toContain(GH_TOKEN);
  });

  it('providers lists ghcr and exec; configure-docker --registries takes ghcr.io', async () => {
    const providers = await run(CLI, ['providers'], { env });
    expect(providers.stdout).toMatch(/^ghcr: GitHub Container Registry/m);
    expect(providers.stdout).toMatch(/^exec: Any docker-credential helper/m);
    expect(await configureDockerFor('ghcr.io', join(session.root, 'docker-ghcr'), env)).toEqual({
      code: 0,
      credHelpers: { 'ghcr.io': 'credrelay' },
    });
  });
});
