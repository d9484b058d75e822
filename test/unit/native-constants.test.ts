/**
 * The native client (the C files in src/native/) must find the same socket and send the same bounded request as
 * the Node client. What it shares with the TypeScript is generated into its native-config.h at build
 * (src/native/native-config.ts); here the header is checked against the TypeScript's values, and the C source is
 * checked to define none of them itself, so that no copy can drift. native.test.ts then runs the built client
 * against the Node client, answer for answer.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FINGERPRINT_HASH,
  IGNORED_PREFIXES,
  IGNORED_VARIABLES,
  SOCKET_PREFIX,
  SOCKET_SUFFIX,
} from '../../src/core/paths.js';
import { MAX_SERVER_URL_BYTES, MAX_STORE_BYTES } from '../../src/core/protocol/codec.js';
import { MAX_LINE_BYTES } from '../../src/core/wire/framing.js';
import { MAX_SOCKET_PATH_BYTES } from '../../src/core/wire/runtime-dir.js';
import { DEFAULT_TIMEOUTS } from '../../src/core/wire/transport.js';
import { cString, nativeConfigHeader } from '../../src/native/native-config.js';

const NATIVE = resolve(import.meta.dirname, '..', '..', 'src', 'native');
/** Every C file and header of the native client, as one text. */
const C = readdirSync(NATIVE)
  .filter((file) => /\.[ch]$/.test(file))
  .map((file) => readFileSync(join(NATIVE, file), 'utf8'))
  .join('\n');
const HEADER = nativeConfigHeader('9.8.7');

/** The value of `#define NAME value` in the generated header. */
function defined(name: string): string {
  const match = new RegExp(`^#define ${name} (.+)$`, 'm').exec(HEADER);
  if (match === null) throw new Error(`${name} is not in the generated header`);
  return match[1]!;
}

/** The strings of a list of C string literals, decoded (octal escapes included). */
const strings = (literals: string): string[] =>
  [...literals.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((literal) =>
    Buffer.from(
      literal[1]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
      'latin1',
    ).toString('utf8'),
  );

describe('the native client shares the TypeScript facts, generated', () => {
  it('the header holds the variables that cannot change an answer, the hash, the socket name, the bounds and deadlines', () => {
    expect(strings(defined('IGNORED_NAME_LIST'))).toEqual(Object.keys(IGNORED_VARIABLES));
    expect(strings(defined('IGNORED_PREFIX_LIST'))).toEqual(Object.keys(IGNORED_PREFIXES));
    expect(defined('HASH_SEED_1')).toBe(`${FINGERPRINT_HASH.seeds[0]}u`);
    expect(defined('HASH_SEED_2')).toBe(`${FINGERPRINT_HASH.seeds[1]}u`);
    expect(defined('HASH_MULTIPLIER_1')).toBe(`${FINGERPRINT_HASH.multipliers[0]}u`);
    expect(defined('HASH_MULTIPLIER_2')).toBe(`${FINGERPRINT_HASH.multipliers[1]}u`);
    expect(defined('HASH_MIXER_1')).toBe(`${FINGERPRINT_HASH.mixers[0]}u`);
    expect(defined('HASH_MIXER_2')).toBe(`${FINGERPRINT_HASH.mixers[1]}u`);
    expect(strings(defined('SOCKET_PREFIX'))).toEqual([SOCKET_PREFIX]);
    expect(strings(defined('SOCKET_SUFFIX'))).toEqual([SOCKET_SUFFIX]);
    expect(Number(defined('MAX_SERVER_URL_BYTES'))).toBe(MAX_SERVER_URL_BYTES);
    expect(Number(defined('MAX_STORE_BYTES'))).toBe(MAX_STORE_BYTES);
    expect(Number(defined('MAX_LINE_BYTES'))).toBe(MAX_LINE_BYTES);
    expect(Number(defined('MAX_SOCKET_PATH_BYTES'))).toBe(MAX_SOCKET_PATH_BYTES);
    expect(Number(defined('ACK_MS'))).toBe(DEFAULT_TIMEOUTS.ackMs);
    expect(Number(defined('REPLY_MS'))).toBe(DEFAULT_TIMEOUTS.replyMs);
    expect(strings(defined('CREDRELAY_VERSION'))).toEqual(['9.8.7']);
  });

  it('the C source defines none of them, and repeats none of their values', () => {
    for (const name of HEADER.matchAll(/^#define (\w+)/gm))
      expect(C, name[1]).not.toMatch(new RegExp(`#define ${name[1]}\\b`));
    for (const value of [...FINGERPRINT_HASH.seeds, ...FINGERPRINT_HASH.multipliers, ...FINGERPRINT_HASH.mixers])
      expect(C).not.toMatch(new RegExp(`\\b(${value}|0x${value.toString(16)})u?\\b`, 'i'));
    // The path rules read some of these variables by name (getenv, xdg): that is their algorithm, not a copied list.
    const lists = C.replace(/\b(getenv|xdg)\("\w+"/g, '$1(');
    for (const name of [...Object.keys(IGNORED_VARIABLES), ...Object.keys(IGNORED_PREFIXES)])
      expect(lists, name).not.toContain(`"${name}"`);
    expect(C).not.toContain(`"${SOCKET_PREFIX}`);
  });

  it('writes any text as a C literal that cannot end early', () => {
    expect(cString('/usr/bin/node')).toBe('"/usr/bin/node"');
    expect(strings(cString('a "quoted" path\\with\nnewline é'))).toEqual(['a "quoted" path\\with\nnewline é']);
    expect(cString('x"y')).not.toMatch(/^"x"/);
  });
});
