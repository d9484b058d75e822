import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { CredrelayError } from '../../src/core/errors.js';
import { decodeServerURL, decodeStoreRequest } from '../../src/core/protocol/codec.js';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { parseRegistryPattern } from '../../src/core/registry/registry-pattern.js';
import { deepJson, nastyString, randomBytes, serverLikeString } from './arbitraries.js';

/**
 * Runs `attempt`; it may return or throw a CredrelayError, nothing else. A parser that backtracks without end on
 * some input fails as this test's timeout, not by a wall-clock bound per case that a loaded machine would break.
 */
function onlyCredrelayErrors(attempt: () => unknown): CredrelayError | undefined {
  try {
    attempt();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(CredrelayError);
    expect((error as Error).message).not.toMatch(/[\r\n]/);
    return error as CredrelayError;
  }
}

describe('registry identity parser under hostile input', () => {
  it('accepts or refuses with INVALID_SERVER_URL; what it accepts is clean and stable', () => {
    fc.assert(
      fc.property(fc.oneof(nastyString, serverLikeString, fc.string({ maxLength: 300 })), (input) => {
        let identity;
        const error = onlyCredrelayErrors(() => (identity = parseRegistry(input)));
        if (error) {
          expect(error.code).toBe('INVALID_SERVER_URL');
          return;
        }
        const { key, host, port } = identity!;
        expect(key).toMatch(/^[\x21-\x7e]+$/);
        expect(key).not.toMatch(/[@/\\%?#\s]/);
        expect(host).toBe(host.toLowerCase());
        if (port !== undefined) expect(port >= 1 && port <= 65535 && port !== 443).toBe(true);
        expect(parseRegistry(key).key).toBe(key); // normalising twice changes nothing
      }),
      { numRuns: 3000 },
    );
  });

  it('never accepts userinfo: an @ inside the authority is always refused', () => {
    // (With a "/" before it, an "@" is part of the path, and the host is what precedes the "/", as URL parsers read it.)
    const user = fc.string({ maxLength: 20 }).filter((text) => !text.includes('/'));
    fc.assert(
      fc.property(serverLikeString, user, (host, user) => {
        const error = onlyCredrelayErrors(() => parseRegistry(`https://${user}@${host}`));
        expect(error).toBeDefined();
      }),
      { numRuns: 500 },
    );
  });

  it('handles IPv6 literals, percent-encoding and out-of-range ports', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: -10, max: 70000 }), (address, port) => {
        const error = onlyCredrelayErrors(() => parseRegistry(`[${address}]:${port}`));
        if (port < 1 || port > 65535) expect(error).toBeDefined();
      }),
      { numRuns: 500 },
    );
    for (const input of ['reg%2eexample', 'reg%252eexample', '%72eg.example', 'r.example%00'])
      expect(onlyCredrelayErrors(() => parseRegistry(input))).toBeDefined();
  });

  it('refuses megabyte server strings quickly', () => {
    expect(onlyCredrelayErrors(() => decodeServerURL(Buffer.alloc(4 * 1024 * 1024, 'a')))?.code).toBe(
      'INPUT_TOO_LARGE',
    );
    expect(onlyCredrelayErrors(() => parseRegistry(`${'a.'.repeat(100_000)}example`))?.code).toBe('INVALID_SERVER_URL');
  });
});

describe('protocol codec under hostile input', () => {
  const codes = new Set(['INVALID_INPUT', 'INPUT_TOO_LARGE', 'MISSING_SERVER_URL', 'MISSING_USERNAME']);

  it('decodes random bytes, random JSON and __proto__ games into credentials or a clear error, never quoting the input', () => {
    const documents = fc.oneof(
      randomBytes,
      fc.json().map((text) => Buffer.from(text)),
      fc
        .dictionary(
          fc.constantFrom('ServerURL', 'serverurl', 'USERNAME', 'Secret', '__proto__', 'constructor', 'prototype', 'x'),
          fc.anything(),
        )
        .map((object) => Buffer.from(JSON.stringify(object))),
      fc
        .constantFrom(
          '{"__proto__":{"ServerURL":"x"}}',
          '{"constructor":{"prototype":{}}}',
          '{"ServerURL":{"toString":1}}',
        )
        .map((text) => Buffer.from(text)),
    );
    fc.assert(
      fc.property(documents, (input) => {
        const error = onlyCredrelayErrors(() => decodeStoreRequest(input));
        if (error) {
          expect(codes.has(error.code)).toBe(true);
          expect(error.message.length).toBeLessThan(200);
        }
        expect(({} as Record<string, unknown>).ServerURL).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses deep nesting and huge documents with a clear error', () => {
    expect(onlyCredrelayErrors(() => decodeStoreRequest(Buffer.from(deepJson(100_000))))?.code).toBe('INVALID_INPUT');
    expect(onlyCredrelayErrors(() => decodeStoreRequest(Buffer.alloc(2 * 1024 * 1024, ' ')))?.code).toBe(
      'INPUT_TOO_LARGE',
    );
    const canary = 'fuzz-secret-canary-0042';
    const error = onlyCredrelayErrors(() => decodeStoreRequest(Buffer.from(`{"Secret":"${canary}",${deepJson(5)}`)));
    expect(error?.message).not.toContain(canary);
  });

  it('decodes any get/erase input into a server string or a clear error', () => {
    fc.assert(
      fc.property(randomBytes, (input) => {
        const error = onlyCredrelayErrors(() => decodeServerURL(input));
        if (error) expect(['MISSING_SERVER_URL', 'INPUT_TOO_LARGE']).toContain(error.code);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('configuration loader under hostile input', () => {
  it('loads or refuses with CONFIG_INVALID, for any JSON value', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (document) => {
        const error = onlyCredrelayErrors(() => parseConfig(document, '/fuzz.json'));
        if (error) expect(error.code).toBe('CONFIG_INVALID');
      }),
      { numRuns: 2000 },
    );
  });

  it('loads or refuses registries of any shape, and never lets a glob cover everything', () => {
    const entries = fc.dictionary(
      fc.oneof(serverLikeString, nastyString, fc.constantFrom('*', '*.*', '*.example', '__proto__')),
      fc.anything(),
      { maxKeys: 5 },
    );
    fc.assert(
      fc.property(entries, (registries) => {
        const error = onlyCredrelayErrors(() => parseConfig({ registries }, '/fuzz.json'));
        if (error) expect(error.code).toBe('CONFIG_INVALID');
      }),
      { numRuns: 2000 },
    );
    for (const key of ['*', '*.*', '*:5000'])
      expect(() => parseRegistryPattern(key)).toThrowError(/matches every host|not a registry glob/);
  });
});
