import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, run } from '../support/helper.js';

/**
 * `configure-docker` with DOCKER_CONFIG in a directory others can write (sticky, like /tmp), attacked by another
 * user (uid 65534, through setpriv) who plants links where credrelay writes: its backup and temporary files, and
 * config.json itself.
 */
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const VICTIM_AUTHS = { auths: { 'registry.example': { auth: 'dmljdGltOmNhbmFyeS1wYXNzd29yZA==' } } };

let shared: string;
beforeAll(() => {
  shared = mkdtempSync('/tmp/credrelay-docker-config-');
  chmodSync(shared, 0o1777);
});
afterAll(() => rmSync(shared, { recursive: true, force: true }));

const configure = (dockerConfig: string) =>
  run(CLI, ['configure-docker'], { env: { DOCKER_CONFIG: dockerConfig, XDG_STATE_HOME: join(shared, 'state') } });
const asNobody = (...command: string[]) => execFileSync('setpriv', [...NOBODY, ...command]);

describe('configure-docker against planted links', () => {
  it('a planted backup link neither leaks the config to its owner nor overwrites the file it points to', async () => {
    const dockerConfig = join(shared, 'victim-a');
    mkdirSync(dockerConfig);
    chmodSync(dockerConfig, 0o1777);
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify(VICTIM_AUTHS), { mode: 0o600 });
    // The attacker's own file, writable by all, and a root-owned file elsewhere.
    const loot = join(shared, 'loot');
    asNobody('sh', '-c', `umask 000; : > ${loot}`);
    const precious = join(shared, 'precious');
    writeFileSync(precious, 'keep me\n', { mode: 0o644 });
    asNobody('ln', '-s', loot, join(dockerConfig, 'config.json.bak'));
    const result = await configure(dockerConfig);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(loot, 'utf8')).toBe('');
    const backup = lstatSync(join(dockerConfig, 'config.json.bak'));
    expect(backup.isSymbolicLink()).toBe(false);
    expect(backup.uid).toBe(process.getuid!());
    expect(backup.mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dockerConfig, 'config.json'), 'utf8'))).toEqual({
      ...VICTIM_AUTHS,
      credsStore: 'credrelay',
    });

    // The same with a link to the root-owned file: it keeps its content and its mode.
    rmSync(join(dockerConfig, 'config.json.bak'));
    asNobody('ln', '-s', precious, join(dockerConfig, 'config.json.bak'));
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify(VICTIM_AUTHS), { mode: 0o600 });
    expect((await configure(dockerConfig)).code).toBe(0);
    expect(readFileSync(precious, 'utf8')).toBe('keep me\n');
    expect(statSync(precious).mode & 0o777).toBe(0o644);
    expect(readdirSync(dockerConfig).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it("a config.json that links to another user's file is refused; one linking to the user's own file is followed", async () => {
    const dockerConfig = join(shared, 'victim-b');
    mkdirSync(dockerConfig);
    chmodSync(dockerConfig, 0o1777);
    const theirs = join(shared, 'their-config.json');
    asNobody('sh', '-c', `umask 000; echo '{}' > ${theirs}`);
    asNobody('ln', '-s', theirs, join(dockerConfig, 'config.json'));
    const refused = await configure(dockerConfig);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is a link to .*their-config\.json, which belongs to uid 65534, not to you/);
    expect(readFileSync(theirs, 'utf8')).toBe('{}\n');

    const ownDir = join(shared, 'own');
    mkdirSync(ownDir, { mode: 0o700 });
    const own = join(ownDir, 'docker-config.json');
    writeFileSync(own, JSON.stringify(VICTIM_AUTHS), { mode: 0o600 });
    rmSync(join(dockerConfig, 'config.json'), { force: true });
    symlinkSync(own, join(dockerConfig, 'config.json'));
    expect((await configure(dockerConfig)).code).toBe(0);
    expect(lstatSync(join(dockerConfig, 'config.json')).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(own, 'utf8'))).toEqual({ ...VICTIM_AUTHS, credsStore: 'credrelay' });
    expect(readFileSync(`${own}.bak`, 'utf8')).toBe(JSON.stringify(VICTIM_AUTHS));
  });
});
