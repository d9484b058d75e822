import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { untrustedReason } from '../../src/core/util/file-trust.js';
import { makeTempDir } from '../support/temp.js';

const scratch = makeTempDir('file-trust');
afterAll(() => scratch.remove());

describe('untrustedReason', () => {
  it('trusts a file of ours in directories only we (or root) can write', () => {
    const file = join(scratch.path, 'ours.json');
    writeFileSync(file, '{}', { mode: 0o600 });
    expect(untrustedReason(file)).toBeUndefined();
  });

  it('refuses a file others can write, and one under a directory others can write', () => {
    const open = join(scratch.path, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const file = join(open, 'file.json');
    writeFileSync(file, '{}', { mode: 0o600 });
    expect(untrustedReason(file)?.reason).toMatch(/open can be written by others \(mode 0777\)/);
    const writable = join(scratch.path, 'writable.json');
    writeFileSync(writable, '{}');
    chmodSync(writable, 0o666);
    expect(untrustedReason(writable)?.reason).toMatch(/writable\.json can be written by others/);
  });

  it('does not trust a missing path for being absent: only where nobody else could create it', () => {
    // In a private directory nobody else can create it: trusted (it is read as missing).
    expect(untrustedReason(join(scratch.path, 'missing', 'config.json'))).toBeUndefined();
    // In a sticky world-writable directory anyone may create the missing name.
    const sticky = join(scratch.path, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    expect(untrustedReason(join(sticky, 'credrelay', 'executable'))?.reason).toMatch(
      /executable does not exist, and .*sticky can be written by others \(mode 1777\), so someone else could create it/,
    );
    // An existing entry of ours in that sticky directory is trusted: others cannot replace it.
    const ours = join(sticky, 'ours');
    mkdirSync(ours, { mode: 0o700 });
    expect(untrustedReason(ours)).toBeUndefined();
  });
});
