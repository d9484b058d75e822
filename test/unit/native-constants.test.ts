/**
 * The native client (src/native/credential-client.c) must find the same socket and send the same bounded request as
 * the Node client: the lists and bounds it repeats in C are checked here against the TypeScript they copy.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RELEVANT_NAMES, RELEVANT_PREFIXES } from '../../src/core/paths.js';
import { MAX_SERVER_URL_BYTES, MAX_STORE_BYTES } from '../../src/core/protocol/codec.js';
import { MAX_LINE_BYTES } from '../../src/core/wire/framing.js';
import { MAX_SOCKET_PATH_BYTES } from '../../src/core/wire/runtime-dir.js';
import { DEFAULT_TIMEOUTS } from '../../src/core/wire/transport.js';

const C = readFileSync(resolve(import.meta.dirname, '..', '..', 'src', 'native', 'credential-client.c'), 'utf8');

/** The value of `#define NAME expression`, evaluated (the expressions are products of integers). */
function defined(name: string, which: 'first' | 'last' = 'first'): number {
  const matches = [...C.matchAll(new RegExp(`^#define ${name} (.+)$`, 'gm'))];
  const match = which === 'first' ? matches[0] : matches.at(-1);
  if (match === undefined) throw new Error(`${name} is not defined in the C source`);
  const expression = match[1]!.trim();
  if (!/^[\d\s()*+]+$/.test(expression)) throw new Error(`${name} is not a plain integer expression: ${expression}`);
  return Function(`return (${expression});`)() as number;
}

/** The strings of a `static const char *const NAME[] = {...}` array. */
function stringArray(name: string): string[] {
  const match = new RegExp(`${name}\\[\\] = \\{([\\s\\S]*?)\\};`).exec(C);
  if (match === null) throw new Error(`${name} is not in the C source`);
  return [...match[1]!.matchAll(/"([^"]*)"/g)].map((entry) => entry[1]!);
}

describe('the native client repeats the Node client exactly', () => {
  it('the variables that make an environment', () => {
    expect(new Set(stringArray('RELEVANT_NAMES'))).toEqual(RELEVANT_NAMES);
    expect(stringArray('RELEVANT_PREFIXES')).toEqual(RELEVANT_PREFIXES);
  });

  it('the bounds of stdin, the wire line and the socket path, and the deadlines', () => {
    expect(defined('MAX_SERVER_URL_BYTES')).toBe(MAX_SERVER_URL_BYTES);
    expect(defined('MAX_STORE_BYTES')).toBe(MAX_STORE_BYTES);
    expect(defined('MAX_LINE_BYTES')).toBe(MAX_LINE_BYTES);
    expect(defined('ACK_MS')).toBe(DEFAULT_TIMEOUTS.ackMs);
    expect(defined('REPLY_MS')).toBe(DEFAULT_TIMEOUTS.replyMs);
    // `#if defined(__APPLE__)` first, then the other systems'.
    expect(defined('MAX_SOCKET_PATH_BYTES', process.platform === 'darwin' ? 'first' : 'last')).toBe(
      MAX_SOCKET_PATH_BYTES,
    );
  });
});
