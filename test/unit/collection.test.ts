import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProtocolReply } from '../../src/core/protocol/handler.js';
import { fileCollections } from '../../src/service/collection.js';
import { makeTempDir } from '../support/temp.js';

const dir = makeTempDir('collection');
afterAll(() => dir.remove());

const listing: ProtocolReply = {
  stdout: '{"static.example":"ci","123456789012.dkr.ecr.us-east-1.amazonaws.com":"AWS"}\n',
  stderr: '',
  exitCode: 0,
};
const failure: ProtocolReply = {
  stdout: 'ECR credentials for 123456789012.dkr.ecr.us-east-1.amazonaws.com: no AWS credentials\n',
  stderr: '',
  exitCode: 1,
};
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

describe('a get that is part of a collection', () => {
  it('only for a program known to collect (docker, docker-compose, Python): not this Node test process', () => {
    const collections = fileCollections(dir.path);
    const caller = `${process.pid}:1`;
    collections.listed(caller, listing);
    expect(collections.failedGet(caller, ECR, failure)).toBe(failure);
  });

  it("is answered not-found, with credrelay's reason on stderr, after its caller's list named it", () => {
    const collections = fileCollections(dir.path, Date.now, () => true);
    collections.listed('4242:17', listing);
    const answered = collections.failedGet('4242:17', ECR, failure);
    expect(answered.stdout).toBe('credentials not found in native keychain\n');
    expect(answered.exitCode).toBe(1);
    expect(answered.stderr).toMatch(
      /^credrelay: ECR credentials for .*: no AWS credentials \(answered "not found" to this caller/,
    );
  });

  it('is not: another caller, a pid reused (another start time), a name the list did not give, a success', () => {
    const collections = fileCollections(dir.path, Date.now, () => true);
    collections.listed('5151:9', listing);
    expect(collections.failedGet('5152:9', ECR, failure)).toBe(failure);
    expect(collections.failedGet('5151:10', ECR, failure)).toBe(failure);
    expect(collections.failedGet('5151:9', 'other.example', failure)).toBe(failure);
    const ok: ProtocolReply = { stdout: '{"Secret":"x"}\n', stderr: '', exitCode: 0 };
    expect(collections.failedGet('5151:9', ECR, ok)).toBe(ok);
    const notFound: ProtocolReply = { stdout: 'credentials not found in native keychain\n', stderr: '', exitCode: 1 };
    expect(collections.failedGet('5151:9', ECR, notFound)).toBe(notFound);
  });

  it('is not, once the list is more than a minute old', () => {
    const collections = fileCollections(dir.path, Date.now, () => true);
    collections.listed('6161:3', listing);
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(dir.path, 'collect-6161-3.json'), old, old);
    expect(collections.failedGet('6161:3', ECR, failure)).toBe(failure);
  });
});
