import fc from 'fast-check';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonPid, isAlive } from '../support/daemon.js';
import { daemonSocketFor, runHelper, VERSION } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { deepJson, nastyString, randomBytes, serverLikeString } from './arbitraries.js';

/** The real daemon and the real binary, fed hostile input; afterwards the daemon serves and the credential is intact. */
let session: Keyring;
const STORED = { ServerURL: 'intact.example:5000', Username: 'keeper', Secret: 'fuzz-kept-secret' };

beforeAll(async () => {
  session = await startKeyring();
  expect((await runHelper('store', JSON.stringify(STORED), session.env)).code).toBe(0);
});
afterAll(async () => {
  await session.stop();
});

const expectIntact = async () => {
  const result = await runHelper('get', 'https://intact.example:5000', session.env);
  expect(JSON.parse(result.stdout)).toEqual({ ...STORED, ServerURL: 'https://intact.example:5000' });
};

/** Sends raw bytes to the daemon; resolves with the reply lines once it closes the connection (or after 3 s). */
function sendRaw(payload: Buffer): Promise<string[]> {
  return new Promise((resolve) => {
    const socket = createConnection(daemonSocketFor(session.env));
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(data.split('\n').filter(Boolean));
    }, 3000);
    socket.on('connect', () => socket.end(payload));
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data.split('\n').filter(Boolean));
    });
  });
}

const lines = fc.oneof(
  randomBytes.map((bytes) => Buffer.concat([bytes, Buffer.from('\n')])),
  fc.json().map((text) => Buffer.from(`${text}\n`)),
  fc
    .record(
      {
        v: fc.oneof(fc.constant(VERSION), fc.string()),
        op: fc.constantFrom('protocol', 'kubelet', 'status', 'cache-list', 'cache-clear', 'reload', 'x'),
        action: fc.anything(),
        input: fc.oneof(fc.base64String(), fc.anything()),
        host: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((request) => Buffer.from(`${JSON.stringify(request)}\n`)),
  fc
    .constantFrom(
      `${deepJson(50_000)}\n`,
      `{"__proto__":{"op":"shutdown"},"v":"${VERSION}"}\n`,
      `{"v":"${VERSION}","op":"protocol","action":"constructor","input":""}\n`,
    )
    .map((text) => Buffer.from(text)),
);

describe('the daemon wire under hostile input', () => {
  it('answers every line with JSON or closes, keeps serving, and keeps the stored credential', async () => {
    await expectIntact(); // a daemon is running
    const pid = daemonPid(session.runtimeDir)!;
    const samples = fc.sample(lines, { numRuns: 300, seed: 42 });
    for (let i = 0; i < samples.length; i += 25) {
      const replies = await Promise.all(samples.slice(i, i + 25).map(sendRaw));
      for (const reply of replies) for (const line of reply) expect(() => JSON.parse(line)).not.toThrow();
    }
    const huge = await sendRaw(Buffer.alloc(3 * 1024 * 1024, 'x'));
    expect(huge).toEqual([expect.stringContaining('REQUEST_TOO_LARGE')]);
    expect(isAlive(pid)).toBe(true);
    expect(daemonPid(session.runtimeDir)).toBe(pid);
    await expectIntact();
  });
});

describe('the helper binary under hostile input', () => {
  it('ends every call with exit 0 or 1 and at most one line on stdout, quickly; the credential is intact', async () => {
    const inputs = fc.sample(
      fc.oneof(
        randomBytes,
        nastyString.map((text) => Buffer.from(text)),
        serverLikeString.map((text) => Buffer.from(text)),
        fc.json().map((text) => Buffer.from(text)),
      ),
      { numRuns: 45, seed: 7 },
    );
    const actions = ['get', 'store', 'erase'];
    for (const [index, input] of inputs.entries()) {
      const action = actions[index % actions.length]!;
      const started = Date.now();
      const result = await runHelper(action, input, session.env);
      expect([0, 1]).toContain(result.code);
      expect(result.stdout === '' || /^[^\n]*\n$/.test(result.stdout)).toBe(true);
      if (result.code === 1) expect(result.stdout.length).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    for (const input of [Buffer.alloc(5 * 1024 * 1024, 'a'), Buffer.from(deepJson(200_000))]) {
      const result = await runHelper('store', input, session.env);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/larger than 1 MiB|not valid JSON|must be a JSON object/);
    }
    await expectIntact();
  });
});
