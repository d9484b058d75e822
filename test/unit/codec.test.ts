import { describe, expect, it } from 'vitest';
import {
  MAX_SERVER_URL_BYTES,
  MAX_STORE_BYTES,
  decodeServerURL,
  decodeStoreRequest,
  encodeCredentials,
  encodeList,
  goJSON,
} from '../../src/core/protocol/codec.js';

const bytes = (text: string): Uint8Array => Buffer.from(text);

describe('decodeServerURL', () => {
  it('joins lines and trims surrounding whitespace, as bufio.Scanner + TrimSpace do', () => {
    expect(decodeServerURL(bytes('  registry.example:5000\n'))).toBe('registry.example:5000');
    expect(decodeServerURL(bytes('registry.\nexample\r\n'))).toBe('registry.example');
  });
  it('says `no credentials server URL` for empty input', () => {
    expect(() => decodeServerURL(bytes(' \n\t'))).toThrowError(/^no credentials server URL$/);
  });
  it('rejects a server string over 64 KiB', () => {
    expect(() => decodeServerURL(new Uint8Array(MAX_SERVER_URL_BYTES + 1).fill(0x61))).toThrowError(
      /larger than 64 KiB/,
    );
    expect(decodeServerURL(new Uint8Array(MAX_SERVER_URL_BYTES).fill(0x61))).toHaveLength(MAX_SERVER_URL_BYTES);
  });
});

describe('decodeStoreRequest: Go encoding/json semantics', () => {
  it('matches field names case-insensitively and ignores unknown fields', () => {
    expect(decodeStoreRequest(bytes('{"serverurl":"r.example","USERNAME":"u","secret":"s","Extra":1}'))).toEqual({
      ServerURL: 'r.example',
      Username: 'u',
      Secret: 's',
    });
  });
  it('lets a later duplicate win', () => {
    expect(
      decodeStoreRequest(bytes('{"ServerURL":"a.example","serverURL":"b.example","Username":"u"}')).ServerURL,
    ).toBe('b.example');
  });
  it('allows an empty secret and keeps an identity token as it is', () => {
    expect(decodeStoreRequest(bytes('{"ServerURL":"r","Username":"<token>","Secret":""}'))).toEqual({
      ServerURL: 'r',
      Username: '<token>',
      Secret: '',
    });
  });
  it('accepts a document spread over lines', () => {
    expect(decodeStoreRequest(bytes('{"ServerURL":\n"r",\n"Username":"u"}\n')).Username).toBe('u');
  });
  it('names the missing server URL and username exactly as Docker expects', () => {
    expect(() => decodeStoreRequest(bytes('{"Username":"u"}'))).toThrowError(/^no credentials server URL$/);
    expect(() => decodeStoreRequest(bytes('null'))).toThrowError(/^no credentials server URL$/);
    expect(() => decodeStoreRequest(bytes('{"ServerURL":"r","Username":null}'))).toThrowError(
      /^no credentials username$/,
    );
  });
  it.each(['', 'nope', '[1]', '"string"', '42', '{"ServerURL":"r"'])(
    'rejects %j as not a credentials object',
    (input) => {
      expect(() => decodeStoreRequest(bytes(input))).toThrowError(expect.objectContaining({ code: 'INVALID_INPUT' }));
    },
  );
  it('rejects a field of the wrong type and names the field', () => {
    expect(() => decodeStoreRequest(bytes('{"ServerURL":5}'))).toThrowError(/ServerURL field must be a string/);
  });
  it('never quotes a secret from broken input in its error', () => {
    const attempt = () => decodeStoreRequest(bytes('{"Secret":"canary-7f3a" oops'));
    expect(attempt).toThrowError(expect.objectContaining({ message: expect.not.stringContaining('canary-7f3a') }));
  });
  it('ignores __proto__ keys instead of polluting anything', () => {
    const decoded = decodeStoreRequest(bytes('{"__proto__":{"Username":"x"},"ServerURL":"r","Username":"u"}'));
    expect(decoded.Username).toBe('u');
    expect(({} as Record<string, unknown>).Username).toBeUndefined();
  });
  it('rejects a document over 1 MiB', () => {
    expect(() => decodeStoreRequest(new Uint8Array(MAX_STORE_BYTES + 1).fill(0x20))).toThrowError(/larger than 1 MiB/);
  });
});

describe('encoding: byte-identical to Go json.Encoder', () => {
  it('escapes <, >, & and the JavaScript line separators', () => {
    expect(goJSON('<token>&\u2028\u2029')).toBe('"\\u003ctoken\\u003e\\u0026\\u2028\\u2029"');
  });
  it('writes the get answer in field order with a trailing newline', () => {
    expect(encodeCredentials({ ServerURL: 'r:5000', Username: '<token>', Secret: 's&' })).toBe(
      '{"ServerURL":"r:5000","Username":"\\u003ctoken\\u003e","Secret":"s\\u0026"}\n',
    );
  });
  it('writes the list answer with sorted keys, {} when empty', () => {
    expect(
      encodeList(
        new Map([
          ['z.example', 'u2'],
          ['a.example', 'u1'],
        ]),
      ),
    ).toBe('{"a.example":"u1","z.example":"u2"}\n');
    expect(encodeList(new Map())).toBe('{}\n');
  });
});
