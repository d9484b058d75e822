import { chmodSync, chownSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../support/temp.js';

/** The daemon's log as another user would attack it: a planted link, a planted directory, a loose or linked file. */
const scratch = makeTempDir('log-file');
afterAll(() => scratch.remove());
let cases = 0;
const stateDir = () => {
  const dir = join(scratch.path, `case-${(cases += 1)}`, 'credrelay');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
};
const logLine = (path: string) => createFileLogger({ path, level: 'info' }).info('a line');

describe('the daemon log', () => {
  it('is written 0600 in a private directory', () => {
    const path = join(stateDir(), 'daemon.log');
    logLine(path);
    expect(readFileSync(path, 'utf8')).toContain('"msg":"a line"');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("never follows a daemon.log that is a link to a file of the attacker's choosing", () => {
    const dir = stateDir();
    const victim = join(scratch.path, 'victim-file');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(dir, 'daemon.log'));
    logLine(join(dir, 'daemon.log'));
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('is not appended to a second name of another file (a hard link)', () => {
    const dir = stateDir();
    const other = join(dir, 'other');
    writeFileSync(other, '', { mode: 0o600 });
    linkSync(other, join(dir, 'daemon.log'));
    logLine(join(dir, 'daemon.log'));
    expect(readFileSync(other, 'utf8')).toBe('');
  });

  it('made readable by others beforehand, is made private again', () => {
    const dir = stateDir();
    writeFileSync(join(dir, 'daemon.log'), '', { mode: 0o666 });
    chmodSync(join(dir, 'daemon.log'), 0o666);
    logLine(join(dir, 'daemon.log'));
    expect(statSync(join(dir, 'daemon.log')).mode & 0o777).toBe(0o600);
  });

  it.runIf(process.getuid?.() === 0)('is not written in a state directory another user made', () => {
    const dir = stateDir();
    chownSync(dir, 65534, 65534);
    chmodSync(dir, 0o777);
    logLine(join(dir, 'daemon.log'));
    expect(() => statSync(join(dir, 'daemon.log'))).toThrow(/ENOENT/);
  });
});
