/**
 * The daemon's wire contract, shared by the client and the daemon and by nothing else of theirs.
 *
 * Framing: one JSON object per line, each way (framing.ts). One request per connection: the client connects, sends
 * one request line, and reads an `ack` line as soon as the daemon has read the request, then one reply line, after
 * which the daemon closes the connection. The ack lets a client tell a slow answer (a token exchange) from a daemon
 * that is not running its event loop at all (stopped, wedged), which the kernel would otherwise hide by accepting
 * the connection on its behalf.
 *
 * Every request carries the client's version `v`. A daemon answers only its own version (VERSION_MISMATCH
 * otherwise, which is how a client finds and replaces a daemon left from an upgrade); only `shutdown` is answered
 * whatever the version. So both sides always speak the same revision of this file.
 */
import { CredrelayError, type ErrorCode } from '../errors.js';
import type { FoundCredential, StoreDescription } from '../store/secret-store.js';
import { MAX_STORE_BYTES } from '../protocol/codec.js';
import { type ProtocolAction, type ProtocolReply, isProtocolAction } from '../protocol/handler.js';
import { MAX_KUBELET_REQUEST_BYTES } from '../protocol/kubelet-limits.js';

/**
 * What a helper process is asked: a docker-credential action or a kubelet request, and its stdin. `caller` names the
 * program that ran the helper (`PID:START_TICKS` of its parent process), so that a `get` can be known as part of a
 * collection that program's `list` began (see src/service/collection.ts).
 */
export type ServiceRequest =
  | {
      readonly kind: 'protocol';
      readonly action: ProtocolAction;
      readonly input: Uint8Array;
      readonly caller?: string;
    }
  | { readonly kind: 'kubelet'; readonly input: Uint8Array };

/** A caller as a request names it: the parent's pid and start time (clock ticks since boot). */
export const CALLER = /^[1-9]\d{0,9}:\d{1,20}$/;

/** stdin of a helper process, base64-encoded. */
interface WireInput {
  readonly input: string;
}

/** One call on a secret store, as a CLI command makes it through the daemon (the file store unlocked there). */
export type StoreCall =
  | { readonly method: 'getPassword' | 'deletePassword'; readonly service: string; readonly account: string }
  | { readonly method: 'setPassword'; readonly service: string; readonly account: string; readonly password: string }
  | { readonly method: 'findCredentials'; readonly service: string }
  /** Which store, and whether it can be used now: from the daemon's warm keychain thread. */
  | { readonly method: 'describe' };

/** What each store call answers. */
export type StoreCallResult = string | null | boolean | readonly FoundCredential[] | StoreDescription;

/** What `credrelay daemon status` shows. */
export interface DaemonStatus {
  readonly pid: number;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly socketPath: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly cacheEntries: number;
  readonly idleTimeoutSeconds: number;
  /** The configuration's `store`, and whether this daemon holds the file store's key (`credrelay unlock`). */
  readonly store: string;
  readonly storeUnlocked: boolean;
  /** Why the configuration is not in use; every request fails with this until the file is fixed. */
  readonly configError?: string;
}

/** One cached token as `credrelay cache list` shows it: never the secret; dates as ISO strings. */
export interface CacheRow {
  readonly provider: string;
  /** AWS profile or role, Google principal…: two identities never share a token. */
  readonly identity: string;
  readonly registry: string;
  readonly fetchedAt: string;
  readonly refreshAt: string;
  readonly expiresAt: string;
  /** Its issuer gave it less than 15 minutes of life even when asked afresh: the most it gives. */
  readonly shortLived?: true;
}

type NoFields = Record<never, never>;

/** Each op: the fields its request adds to `{v, op}`, and its result. */
interface WireOps {
  /** A docker-credential action, answered as the helper process would answer it. */
  protocol: {
    request: WireInput & { readonly action: ProtocolAction; readonly caller?: string };
    result: ProtocolReply;
  };
  /** A kubelet CredentialProviderRequest. */
  kubelet: { request: WireInput; result: ProtocolReply };
  status: { request: NoFields; result: DaemonStatus };
  shutdown: { request: NoFields; result: { readonly stopping: true } };
  reload: { request: NoFields; result: DaemonStatus };
  'cache-list': { request: NoFields; result: readonly CacheRow[] };
  'cache-clear': { request: { readonly host?: string }; result: { readonly removed: number } };
  /** `credrelay unlock`: the passphrase of the encrypted file store, kept by the daemon as derived keys only. */
  unlock: {
    /** `holdSeconds`: forget the key after this long (`unlock --timeout`), else the configuration's default. */
    request: { readonly passphrase: string; readonly holdSeconds?: number };
    result: {
      readonly outcome: 'unlocked' | 'created';
      readonly storePath: string;
      /** When the daemon forgets the key (ISO time), or absent when it holds it until `credrelay lock`. */
      readonly until?: string;
    };
  };
  lock: { request: NoFields; result: { readonly wasUnlocked: boolean } };
  /** A CLI command's call on the daemon's secret store. */
  'store-call': { request: { readonly call: StoreCall }; result: StoreCallResult };
}

export type WireOp = keyof WireOps;

export type WireRequest<Op extends WireOp = WireOp> = Op extends WireOp
  ? { readonly v: string; readonly op: Op } & WireOps[Op]['request']
  : never;

export type WireResult<Op extends WireOp> = WireOps[Op]['result'];

/** Codes of the wire itself, and every CredrelayError code a request can fail with. */
export type WireErrorCode = (typeof WIRE_ONLY_CODES)[number] | ErrorCode;

/** Codes only the wire itself answers with; every other code is a CredrelayError's. */
const WIRE_ONLY_CODES = ['VERSION_MISMATCH', 'BAD_REQUEST', 'REQUEST_TOO_LARGE', 'BUSY'] as const;

interface WireFailure {
  readonly ok: false;
  readonly code: WireErrorCode;
  readonly message: string;
  /** The daemon's version, with VERSION_MISMATCH. */
  readonly version?: string;
}

export type WireReply<Op extends WireOp = WireOp> =
  { readonly ok: true; readonly result: WireResult<Op> } | WireFailure;

/** A failure reply as the error a command reports: the daemon's own error, or an internal one for a wire code. */
export function failureError(failure: WireFailure): CredrelayError {
  const code = failure.code;
  return (WIRE_ONLY_CODES as readonly string[]).includes(code)
    ? new CredrelayError('INTERNAL', failure.message)
    : new CredrelayError(code as ErrorCode, failure.message);
}

/** The daemon's first line on a connection: it has read the request. */
export interface WireAck {
  readonly ack: true;
}

const OPS: ReadonlySet<string> = new Set<WireOp>([
  'protocol',
  'kubelet',
  'status',
  'shutdown',
  'reload',
  'cache-list',
  'cache-clear',
  'unlock',
  'lock',
  'store-call',
]);
const STORE_METHODS: ReadonlySet<string> = new Set([
  'getPassword',
  'setPassword',
  'deletePassword',
  'findCredentials',
  'describe',
]);
/** The largest base64 stdin a request can carry: a store document, or a kubelet request. */
const MAX_INPUT_BASE64 = Math.ceil((Math.max(MAX_STORE_BYTES, MAX_KUBELET_REQUEST_BYTES) + 1) / 3) * 4 + 4;

type Fields = Readonly<Record<string, unknown>>;
const isObject = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request on one line, or undefined when it is not one this contract defines. */
export function decodeRequest(line: string): WireRequest | undefined {
  const value = parseJson(line);
  if (!isObject(value) || typeof value.v !== 'string' || typeof value.op !== 'string' || !OPS.has(value.op))
    return undefined;
  return requestFieldsValid(value) ? (value as WireRequest) : undefined;
}

function requestFieldsValid(request: Fields): boolean {
  switch (request.op as WireOp) {
    case 'protocol':
      return (
        inputValid(request) &&
        typeof request.action === 'string' &&
        isProtocolAction(request.action) &&
        (request.caller === undefined || (typeof request.caller === 'string' && CALLER.test(request.caller)))
      );
    case 'kubelet':
      return inputValid(request);
    case 'cache-clear':
      return request.host === undefined || typeof request.host === 'string';
    case 'unlock':
      return (
        typeof request.passphrase === 'string' &&
        request.passphrase.length > 0 &&
        (request.holdSeconds === undefined ||
          (typeof request.holdSeconds === 'number' && Number.isInteger(request.holdSeconds) && request.holdSeconds > 0))
      );
    case 'store-call':
      return isStoreCall(request.call);
    default:
      return true;
  }
}

const inputValid = (request: Fields): boolean =>
  typeof request.input === 'string' && request.input.length <= MAX_INPUT_BASE64;

function isStoreCall(value: unknown): value is StoreCall {
  if (!isObject(value) || typeof value.method !== 'string' || !STORE_METHODS.has(value.method)) return false;
  if (value.method === 'describe') return true;
  if (typeof value.service !== 'string') return false;
  if (value.method !== 'findCredentials' && typeof value.account !== 'string') return false;
  return value.method !== 'setPassword' || typeof value.password === 'string';
}

/**
 * A reply line: an ack, a reply to a request of `op`, or undefined when the line is neither. The envelope is checked
 * here; the result's type is the contract's, which the version handshake guarantees both sides share.
 */
export function decodeReply<Op extends WireOp>(line: string, _op: Op): WireAck | WireReply<Op> | undefined {
  const value = parseJson(line);
  if (!isObject(value)) return undefined;
  if (value.ack === true) return { ack: true };
  if (value.ok === true && 'result' in value) return { ok: true, result: value.result as WireResult<Op> };
  if (value.ok === false && typeof value.code === 'string' && typeof value.message === 'string') {
    return {
      ok: false,
      code: value.code as WireErrorCode,
      message: value.message,
      ...(typeof value.version === 'string' ? { version: value.version } : {}),
    };
  }
  return undefined;
}

/** A helper's request as the wire carries it. */
export function toWire(request: ServiceRequest, v: string): WireRequest<'protocol' | 'kubelet'> {
  const input = Buffer.from(request.input).toString('base64');
  if (request.kind === 'kubelet') return { v, op: 'kubelet', input };
  return {
    v,
    op: 'protocol',
    action: request.action,
    input,
    ...(request.caller === undefined ? {} : { caller: request.caller }),
  };
}

/** The helper's request a wire request carries. */
export function fromWire(request: WireRequest<'protocol' | 'kubelet'>): ServiceRequest {
  const input = Buffer.from(request.input, 'base64');
  if (request.op === 'kubelet') return { kind: 'kubelet', input };
  return {
    kind: 'protocol',
    action: request.action,
    input,
    ...(request.caller === undefined ? {} : { caller: request.caller }),
  };
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
