import { describe, expect, it } from 'vitest';
import { CredrelayError } from '../../src/core/errors.js';
import { handleAction } from '../../src/core/protocol/handler.js';
import { fakeBackend } from '../support/fake-backend.js';

const input = (text: string): Uint8Array => Buffer.from(text);

describe('handleAction', () => {
  it('stores, gets with ServerURL echoed as received, lists and erases', async () => {
    const backend = fakeBackend();
    const stored = await handleAction(
      'store',
      input('{"ServerURL":"r.example","Username":"u","Secret":"s"}'),
      backend,
      '1.2.3',
    );
    expect(stored).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect((await handleAction('get', input(' r.example \n'), backend, '1.2.3')).stdout).toBe(
      '{"ServerURL":"r.example","Username":"u","Secret":"s"}\n',
    );
    expect((await handleAction('list', input('ignored'), backend, '1.2.3')).stdout).toBe('{"r.example":"u"}\n');
    expect(await handleAction('erase', input('r.example'), backend, '1.2.3')).toEqual({
      stdout: '',
      stderr: '',
      exitCode: 0,
    });
    expect(backend.entries.size).toBe(0);
  });

  it('prints errors on stdout, one line, exit code 1', async () => {
    const reply = await handleAction('get', input('missing.example'), fakeBackend(), '1.2.3');
    expect(reply).toEqual({ stdout: 'credentials not found in native keychain\n', stderr: '', exitCode: 1 });
  });

  it('prints the version in the reference helpers format', async () => {
    expect((await handleAction('version', input(''), fakeBackend(), '1.2.3')).stdout).toBe(
      'docker-credential-credrelay (credrelay) 1.2.3\n',
    );
  });

  it('forwards backend notices to stderr, never to stdout', async () => {
    const backend = fakeBackend();
    backend.store = async (_credentials, context) => context.notice('nothing to store for this registry');
    const reply = await handleAction('store', input('{"ServerURL":"r","Username":"u"}'), backend, '1');
    expect(reply).toEqual({ stdout: '', stderr: 'nothing to store for this registry\n', exitCode: 0 });
  });

  it('keeps a multi-line backend error on one line', async () => {
    const backend = fakeBackend();
    backend.list = async () => {
      throw new CredrelayError('KEYCHAIN_FAILED', 'first\nsecond');
    };
    expect((await handleAction('list', input(''), backend, '1')).stdout).toBe('first second\n');
  });

  it('hides the text of unexpected errors, which may quote a secret', async () => {
    const backend = fakeBackend();
    backend.get = async () => {
      throw new Error('boom: canary-secret');
    };
    const reply = await handleAction('get', input('r'), backend, '1');
    expect(reply.exitCode).toBe(1);
    expect(reply.stdout).not.toContain('canary-secret');
    expect(reply.stdout).toMatch(/credrelay doctor/);
  });
});
