/**
 * A daemon asked to stop answers the requests it has acknowledged before it goes: their clients get the daemon's
 * answer, not a dropped connection followed by a second, in-process fetch.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCredrelayConfig } from '../support/config.js';
import { CLI, daemonPidFor, daemonSocketFor, run, runHelper } from '../support/helper.js';
import { stopCredrelayDaemon } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { isAlive } from '../../src/core/util/process.js';

const dir = makeTempDir('daemon-stop');
let env: Record<string, string | undefined>;
const runs = join(dir.path, 'helper-runs');
const release = join(dir.path, 'release');

beforeAll(() => {
  const bin = join(dir.path, 'bin');
  mkdirSync(bin);
  // A wrapped helper that answers once it is told to: the request stays in flight as long as the test needs.
  writeFileSync(
    join(bin, 'docker-credential-slow'),
    `#!/bin/sh\necho run >> '${runs}'\nwhile [ ! -e '${release}' ]; do sleep 0.05; done\nprintf '{"Username":"slow","Secret":"slow-secret"}'\n`,
  );
  chmodSync(join(bin, 'docker-credential-slow'), 0o755);
  writeCredrelayConfig(join(dir.path, 'config'), {
    registries: { 'slow.example': { provider: 'exec', helper: 'slow' } },
  });
  env = {
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    XDG_RUNTIME_DIR: join(dir.path, 'run'),
    XDG_STATE_HOME: join(dir.path, 'state'),
    PATH: `${bin}:${process.env.PATH}`,
  };
});
afterAll(async () => {
  await stopCredrelayDaemon(join(dir.path, 'run', 'credrelay'));
  dir.remove();
});

describe('a stopping daemon', () => {
  it('answers the request it acknowledged, and the client takes that answer', async () => {
    expect((await runHelper('list', '', env)).code).toBe(0); // a daemon runs
    const pid = daemonPidFor(env);
    expect(pid).toBeDefined();
    const pending = runHelper('get', 'slow.example', env);
    await waitFor('the helper to be running', () => existsSync(runs));
    const stopping = run(CLI, ['daemon', 'stop'], { env });
    await waitFor('the daemon to remove its socket', () => !existsSync(daemonSocketFor(env)));
    writeFileSync(release, '');
    const answered = await pending;
    expect(answered.stderr).toBe(''); // through the daemon: no in-process notice
    expect(JSON.parse(answered.stdout)).toMatchObject({ Username: 'slow', Secret: 'slow-secret' });
    expect(readFileSync(runs, 'utf8')).toBe('run\n'); // fetched once, not again in-process
    expect((await stopping).code).toBe(0);
    await waitFor('the daemon to exit', () => !isAlive(pid!));
  });
});
