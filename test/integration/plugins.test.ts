import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { writeCredrelayConfig } from '../support/config.js';

/** docs/examples/gitlab-job-token.mjs is the plugin docs/plugins.md walks through; it must work as documented. */
const EXAMPLE = join(REPO_ROOT, 'docs', 'examples', 'gitlab-job-token.mjs');

describe('a plugin loaded through "plugins" in the config, served by the daemon', () => {
  let session: Keyring;
  let env: Record<string, string>;

  beforeAll(async () => {
    session = await startKeyring();
    const configDir = join(session.env.XDG_CONFIG_HOME!, 'credrelay');
    mkdirSync(configDir, { recursive: true });
    // Copied next to the config and named relatively, as a user would.
    writeFileSync(join(configDir, 'gitlab-job-token.mjs'), (await import('node:fs')).readFileSync(EXAMPLE));
    writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
      plugins: ['./gitlab-job-token.mjs'],
      // The variable the plugin reads by default: the daemon serves an environment that includes it.
      environment: ['CI_JOB_TOKEN'],
      registries: {
        'registry.gitlab.corp.example': { provider: 'gitlab-job-token', tokenVariable: 'CORP_JOB_TOKEN' },
      },
    });
    env = { ...session.env, CI_JOB_TOKEN: 'job-token-canary', CORP_JOB_TOKEN: 'corp-token-canary' };
  });
  afterAll(async () => {
    await session.stop();
  });

  it('serves its own host through its matcher', async () => {
    expect(await runHelper('get', 'registry.gitlab.com', env)).toMatchObject({
      code: 0,
      stdout: '{"ServerURL":"registry.gitlab.com","Username":"gitlab-ci-token","Secret":"job-token-canary"}\n',
    });
  });

  it('serves a host routed to it, with the entry options', async () => {
    expect(JSON.parse((await runHelper('get', 'https://registry.gitlab.corp.example', env)).stdout)).toMatchObject({
      Username: 'gitlab-ci-token',
      Secret: 'corp-token-canary',
    });
  });

  it('spoofed hosts fall through to the keychain, which has nothing', async () => {
    expect((await runHelper('get', 'registry.gitlab.com.attacker.example', env)).stdout).toBe(
      'credentials not found in native keychain\n',
    );
  });

  it('a plugin option that is not declared is a configuration error naming it', async () => {
    const badConfig = join(session.root, 'bad.json');
    writeFileSync(
      badConfig,
      JSON.stringify({ plugins: [EXAMPLE], registries: { 'r.example': { provider: 'gitlab-job-token', token: 'x' } } }),
    );
    const result = await runHelper('get', 'r.example', {
      ...env,
      CREDRELAY_NO_DAEMON: '1',
      CREDRELAY_CONFIG: badConfig,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /registries "r\.example": option "token" is not known to provider "gitlab-job-token"; it accepts tokenVariable/,
    );
  });
});
