/**
 * The facts the native client (the C files beside this one) shares with the TypeScript, written into its
 * native-config.h at build (scripts/build-native.mjs) from the very constants the Node side uses: the variables that
 * cannot change an answer, the fingerprint hash's constants, the socket's name, and the bounds and deadlines of stdin
 * and the wire. The C keeps only algorithms; nothing here is typed twice. test/unit/native-constants.test.ts checks
 * that the C source names no value of its own for any of them.
 */
import {
  FINGERPRINT_HASH,
  HANDOVER_AFTER_ACK,
  HANDOVER_VARIABLE,
  IGNORED_PREFIXES,
  IGNORED_VARIABLES,
  SOCKET_PREFIX,
  SOCKET_SUFFIX,
} from '../core/paths.js';
import { MAX_SERVER_URL_BYTES, MAX_STORE_BYTES } from '../core/protocol/codec.js';
import { MAX_LINE_BYTES } from '../core/wire/framing.js';
import { MAX_SOCKET_PATH_BYTES } from '../core/wire/runtime-dir.js';
import { DEFAULT_TIMEOUTS } from '../core/wire/transport.js';

/**
 * A C string literal of any text: as it is when it holds only name and path characters (readable in the header),
 * else every byte in octal, so that no path or name can end the literal early.
 */
export const cString = (text: string): string =>
  /^[\w./-]*$/.test(text)
    ? `"${text}"`
    : `"${[...Buffer.from(text, 'utf8')].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join('')}"`;

/** The shared part of native-config.h, for the platform this runs on (the socket-path bound differs by system). */
export function nativeConfigHeader(version: string): string {
  const unsigned = (value: number) => `${value >>> 0}u`;
  const list = (values: Iterable<string>) => [...values].map(cString).join(', ');
  return [
    '/* Written by the build from the TypeScript (src/native/native-config.ts): do not edit. */',
    `#define CREDRELAY_VERSION ${cString(version)}`,
    `#define MAX_SERVER_URL_BYTES ${MAX_SERVER_URL_BYTES}`,
    `#define MAX_STORE_BYTES ${MAX_STORE_BYTES}`,
    `#define MAX_LINE_BYTES ${MAX_LINE_BYTES}`,
    `#define MAX_SOCKET_PATH_BYTES ${MAX_SOCKET_PATH_BYTES}`,
    `#define ACK_MS ${DEFAULT_TIMEOUTS.ackMs}`,
    `#define REPLY_MS ${DEFAULT_TIMEOUTS.replyMs}`,
    `#define IGNORED_NAME_LIST ${list(Object.keys(IGNORED_VARIABLES))}`,
    `#define IGNORED_PREFIX_LIST ${list(Object.keys(IGNORED_PREFIXES))}`,
    `#define HASH_SEED_1 ${unsigned(FINGERPRINT_HASH.seeds[0])}`,
    `#define HASH_SEED_2 ${unsigned(FINGERPRINT_HASH.seeds[1])}`,
    `#define HASH_MULTIPLIER_1 ${unsigned(FINGERPRINT_HASH.multipliers[0])}`,
    `#define HASH_MULTIPLIER_2 ${unsigned(FINGERPRINT_HASH.multipliers[1])}`,
    `#define HASH_MIXER_1 ${unsigned(FINGERPRINT_HASH.mixers[0])}`,
    `#define HASH_MIXER_2 ${unsigned(FINGERPRINT_HASH.mixers[1])}`,
    `#define SOCKET_PREFIX ${cString(SOCKET_PREFIX)}`,
    `#define SOCKET_SUFFIX ${cString(SOCKET_SUFFIX)}`,
    `#define HANDOVER_VARIABLE ${cString(HANDOVER_VARIABLE)}`,
    `#define HANDOVER_AFTER_ACK ${cString(HANDOVER_AFTER_ACK)}`,
    '',
  ].join('\n');
}
