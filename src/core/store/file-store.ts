import { nodeCrypto } from '../util/crypto.js';
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CredrelayError } from '../errors.js';
import { replaceFileAtomically } from '../util/atomic-file.js';
import { isAlive } from '../util/process.js';
import type { SecretStore, StoreDescription } from './secret-store.js';
import {
  type KdfParams,
  type StoreKeySource,
  type StoreKeys,
  deriveKeys,
  newKdfParams,
  rememberUnlockedKeys,
} from './store-key.js';

/**
 * An encrypted file for machines without an OS keychain (servers, CI runners, containers), turned on with
 * `"store": "file"`. One JSON document:
 *
 *   { "format": "credrelay-store", "version": 1, "kdf": {scrypt parameters and salt},
 *     "verifier": sealed constant, "records": { id: sealed record } }
 *
 * Each record is sealed on its own with AES-256-GCM under a key derived from the passphrase (scrypt), with a fresh
 * nonce per write; its id is an HMAC of (service, account) under a second derived key, and the id is the sealed
 * record's associated data, so a record cannot be moved to another identity. Nothing is readable without the key:
 * not the registry names, not the usernames, not even which service a record belongs to. The plaintext is padded,
 * so a record's size does not tell a secret's length either. The verifier tells a wrong passphrase from a damaged
 * record.
 *
 * Writes are read-modify-write under a lock file, then a temporary file created exclusively in the same directory,
 * fsync'd, and renamed over the store: two processes writing at once lose nothing, and a crash leaves the old file
 * or the new one, never half of one.
 */
interface FileStoreOptions {
  readonly path: string;
  readonly keys: StoreKeySource;
  /** How long a writer waits for another writer's lock. */
  readonly lockTimeoutMs?: number;
}

const FORMAT = 'credrelay-store';
const VERSION = 1;
const VERIFIER_TEXT = 'credrelay-store-verifier';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PAD_TO = 64;
/** A lock older than this belongs to a writer that died: a write takes milliseconds. */
const STALE_LOCK_MS = 30_000;

interface StoreDocument {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  readonly kdf: KdfParams;
  readonly verifier: string;
  readonly records: Record<string, string>;
  /** One more on every write: with `seal`, what tells this record set from an older one. */
  readonly counter: number;
  /** An HMAC over the verifier, the counter and every record id with its sealed record. */
  readonly seal: string;
}

interface RecordPlaintext {
  readonly s: string;
  readonly a: string;
  readonly p: string;
}

export function createFileStore(options: FileStoreOptions): SecretStore {
  const { path, keys: keySource } = options;
  const lockTimeoutMs = options.lockTimeoutMs ?? 5000;

  /** The store as it is on disk, with its keys; undefined when there is no store yet. */
  const open = async (): Promise<{ document: StoreDocument; keys: StoreKeys } | undefined> => {
    const document = readStore(path);
    if (document === undefined) return undefined;
    const keys = await keySource.keysFor(document.kdf);
    if (!verify(document, keys)) {
      throw new CredrelayError(
        'STORE_WRONG_KEY',
        `the passphrase does not open the credential store ${path}: check the passphrase in CREDRELAY_STORE_KEY_FILE, or run \`credrelay lock\` and \`credrelay unlock\` with the right one`,
      );
    }
    checkRecordSet(path, document, keys);
    return { document, keys };
  };

  const records = (document: StoreDocument, keys: StoreKeys): RecordPlaintext[] =>
    Object.entries(document.records).map(([id, sealed]) => openRecord(path, keys, id, sealed));

  /** Changes the store under its lock; creates it (with the key source's passphrase) when it does not exist. */
  const update = async (change: (records: Record<string, string>, keys: StoreKeys) => boolean): Promise<boolean> => {
    ensurePrivateDirectory(dirname(path));
    // The keys are derived (scrypt, ~0.1 s of CPU) before the lock is taken and kept by the key source, so that
    // writers queue behind each other for milliseconds, not for a derivation each.
    const kdf = (() => {
      try {
        return readStore(path)?.kdf;
      } catch {
        return undefined; // reported under the lock, by open()
      }
    })();
    if (kdf !== undefined) await keySource.keysFor(kdf).catch(() => undefined);
    const release = await takeLock(`${path}.lock`, lockTimeoutMs);
    try {
      let opened = await open();
      if (opened === undefined) {
        const kdf = newKdfParams();
        const keys = await keySource.keysFor(kdf);
        opened = { document: emptyDocument(kdf, keys), keys };
      }
      const next = { ...opened.document.records };
      const changed = change(next, opened.keys);
      if (changed) {
        const counter = opened.document.counter + 1;
        const document = { ...opened.document, records: next, counter };
        const sealedSet = { ...document, seal: setSeal(opened.keys, document) };
        replaceFileAtomically(path, `${JSON.stringify(sealedSet)}\n`, 0o600);
        newestCounters.set(path, counter);
      }
      return changed;
    } finally {
      release();
    }
  };

  return {
    async getPassword(service, account) {
      const opened = await open();
      if (opened === undefined) return null;
      const id = recordId(opened.keys, service, account);
      const sealed = opened.document.records[id];
      return sealed === undefined ? null : openRecord(path, opened.keys, id, sealed).p;
    },
    async setPassword(service, account, password) {
      await update((next, keys) => {
        const id = recordId(keys, service, account);
        next[id] = seal(keys, id, padded({ s: service, a: account, p: password }));
        return true;
      });
    },
    deletePassword: (service, account) =>
      readStore(path) === undefined
        ? Promise.resolve(false)
        : update((next, keys) => {
            const id = recordId(keys, service, account);
            if (next[id] === undefined) return false;
            delete next[id];
            return true;
          }),
    async findCredentials(service) {
      const opened = await open();
      if (opened === undefined) return [];
      return records(opened.document, opened.keys)
        .filter((record) => record.s === service)
        .map((record) => ({ account: record.a, password: record.p }));
    },
    async describe(): Promise<StoreDescription> {
      const backend = `the encrypted file ${path}`;
      try {
        const opened = await open();
        const origin = keySource.origin();
        if (opened === undefined && origin === undefined) {
          // Nothing to open yet, and nothing to create it with: the first write would fail.
          await keySource.keysFor(newKdfParams());
        }
        const count =
          opened === undefined ? 'not created yet' : `${Object.keys(opened.document.records).length} item(s)`;
        return { kind: 'file', backend, usable: true, detail: `key: ${origin}; ${count}` };
      } catch (error) {
        return { kind: 'file', backend, usable: false, detail: (error as Error).message };
      }
    },
  };
}

const VERIFIER_AAD = 'verifier';

function emptyDocument(kdf: KdfParams, keys: StoreKeys): StoreDocument {
  const unsealed = {
    format: FORMAT,
    version: VERSION,
    kdf,
    verifier: seal(keys, VERIFIER_AAD, VERIFIER_TEXT),
    records: {},
    counter: 0,
  } as const;
  return { ...unsealed, seal: setSeal(keys, unsealed) };
}

/**
 * The seal of the whole record set. Each record is sealed on its own (AES-GCM, bound to its id), so without this
 * anyone who can write the file could put an older sealed record back (a rotated password rolled back, a logged-out
 * one resurrected) or delete one, and it would read as valid or as not-found. Its key is derived from the store's
 * encryption key, so only a holder of the passphrase can seal a set.
 */
function setSeal(keys: StoreKeys, document: Omit<StoreDocument, 'seal'>): string {
  const key = Buffer.from(nodeCrypto().hkdfSync('sha256', keys.encryptionKey, Buffer.alloc(0), SET_SEAL_INFO, 32));
  const hmac = nodeCrypto().createHmac('sha256', key);
  hmac.update(`${FORMAT}/${VERSION}\0${document.verifier}\0${document.counter}\0`);
  for (const id of Object.keys(document.records).sort()) hmac.update(`${id}\0${document.records[id]}\0`);
  return hmac.digest('base64');
}

const SET_SEAL_INFO = 'credrelay-store record set';

/** The highest counter this process has seen for each store: a file older than that was put back. */
const newestCounters = new Map<string, number>();

/** The record set as credrelay last wrote it, and no older than this process has seen; tampering is an error. */
function checkRecordSet(path: string, document: StoreDocument, keys: StoreKeys): void {
  const expected = Buffer.from(setSeal(keys, document), 'base64');
  const found = Buffer.from(document.seal, 'base64');
  if (expected.length !== found.length || !nodeCrypto().timingSafeEqual(expected, found)) {
    throw new CredrelayError(
      'STORE_FAILED',
      `the credential store ${path} was changed by something other than credrelay (its records do not match their seal: one was put back, added or removed): restore it from a backup, or move it away and log in again`,
    );
  }
  const newest = newestCounters.get(path) ?? 0;
  if (document.counter < newest) {
    throw new CredrelayError(
      'STORE_FAILED',
      `the credential store ${path} was replaced by an older copy of itself (write ${document.counter}, after write ${newest} was read): restore the newer one, or move it away and log in again`,
    );
  }
  newestCounters.set(path, document.counter);
}

/**
 * `credrelay unlock`, in the daemon: checks the passphrase against the store (or creates the store with it), then
 * keeps the derived keys in this process's memory. The passphrase itself is dropped when this returns.
 */
export async function unlockFileStore(path: string, passphrase: string): Promise<'unlocked' | 'created'> {
  const existing = readStore(path);
  if (existing !== undefined) {
    const keys = await deriveKeys(passphrase, existing.kdf);
    if (!verify(existing, keys)) {
      throw new CredrelayError(
        'STORE_WRONG_KEY',
        `the passphrase does not open the credential store ${path}: run \`credrelay unlock\` again with the right one`,
      );
    }
    rememberUnlockedKeys(existing.kdf, keys);
    return 'unlocked';
  }
  ensurePrivateDirectory(dirname(path));
  const release = await takeLock(`${path}.lock`, 5000);
  try {
    if (readStore(path) !== undefined) return unlockFileStore(path, passphrase); // created meanwhile
    const kdf = newKdfParams();
    const keys = await deriveKeys(passphrase, kdf);
    replaceFileAtomically(path, `${JSON.stringify(emptyDocument(kdf, keys))}\n`, 0o600);
    rememberUnlockedKeys(kdf, keys);
    return 'created';
  } finally {
    release();
  }
}

function recordId(keys: StoreKeys, service: string, account: string): string {
  return nodeCrypto().createHmac('sha256', keys.idKey).update(service).update('\0').update(account).digest('base64url');
}

/** JSON with trailing spaces, to a multiple of PAD_TO bytes: JSON.parse ignores them. */
function padded(record: RecordPlaintext): string {
  const text = JSON.stringify(record);
  const length = Buffer.byteLength(text);
  return text + ' '.repeat((PAD_TO - (length % PAD_TO)) % PAD_TO);
}

function seal(keys: StoreKeys, id: string, plaintext: string): string {
  const nonce = nodeCrypto().randomBytes(NONCE_BYTES);
  const cipher = nodeCrypto().createCipheriv('aes-256-gcm', keys.encryptionKey, nonce);
  cipher.setAAD(Buffer.from(`${FORMAT}/${VERSION}:${id}`));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** The plaintext, or undefined when the key or the associated data does not fit (GCM's tag check). */
function unseal(keys: StoreKeys, id: string, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = nodeCrypto().createDecipheriv('aes-256-gcm', keys.encryptionKey, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(`${FORMAT}/${VERSION}:${id}`));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return undefined;
  }
}

const verify = (document: StoreDocument, keys: StoreKeys): boolean =>
  unseal(keys, VERIFIER_AAD, document.verifier) === VERIFIER_TEXT;

function openRecord(path: string, keys: StoreKeys, id: string, sealed: string): RecordPlaintext {
  const text = unseal(keys, id, sealed);
  let record: unknown;
  try {
    record = text === undefined ? undefined : JSON.parse(text);
  } catch {
    record = undefined;
  }
  const { s, a, p } = (record ?? {}) as Partial<RecordPlaintext>;
  if (typeof s !== 'string' || typeof a !== 'string' || typeof p !== 'string')
    throw damaged(path, 'a record does not open');
  return { s, a, p };
}

const damaged = (path: string, what: string): CredrelayError =>
  new CredrelayError(
    'STORE_FAILED',
    `the credential store ${path} is damaged (${what}): restore it from a backup, or move it away and log in again`,
  );

/** The store on disk, checked for shape and for who can write it; undefined when there is none. */
function readStore(path: string): StoreDocument | undefined {
  let text: string;
  try {
    const stats = lstatSync(path);
    if (!stats.isFile()) throw damaged(path, 'it is not a regular file');
    const uid = process.getuid?.();
    if (uid !== undefined && (stats.uid !== uid || (stats.mode & 0o077) !== 0)) {
      throw new CredrelayError(
        'STORE_FAILED',
        `the credential store ${path} must belong to you and be readable by you alone (mode 600); it has owner uid ${stats.uid} and mode ${(stats.mode & 0o777).toString(8)}: fix it with chmod 600`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof CredrelayError) throw error;
    throw new CredrelayError(
      'STORE_FAILED',
      `cannot read the credential store ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let document: Partial<StoreDocument>;
  try {
    document = JSON.parse(text) as Partial<StoreDocument>;
  } catch {
    throw damaged(path, 'it is not JSON');
  }
  if (
    document?.format !== FORMAT ||
    document.version !== VERSION ||
    typeof document.verifier !== 'string' ||
    typeof document.records !== 'object' ||
    document.records === null ||
    typeof document.kdf !== 'object'
  ) {
    throw damaged(path, 'it is not a credrelay store of version 1');
  }
  if (!Number.isSafeInteger(document.counter) || (document.counter ?? -1) < 0 || typeof document.seal !== 'string') {
    throw damaged(path, 'its record set has no seal (a development build wrote it, or it was edited)');
  }
  return document as StoreDocument;
}

/** The store's directory, created 0700; one that others can write is refused, since they could swap the file. */
function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stats = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stats.isDirectory() || (uid !== undefined && (stats.uid !== uid || (stats.mode & 0o022) !== 0))) {
    throw new CredrelayError(
      'STORE_FAILED',
      `the credential store's directory ${dir} must be a directory that belongs to you and that nobody else can write: fix it with chmod 700`,
    );
  }
}

/**
 * A lock file created exclusively, holding `pid token`: released only by its holder (the token must still be its
 * own), and a stale one (dead writer, or too old) taken over by one contender at a time. Removing a stale lock is
 * guarded by a second exclusive file, and the lock is read again under that guard: without it, two writers that
 * both judged the same lock stale could each remove it, the second removing the lock the first had just taken, and
 * both would write.
 */
async function takeLock(lockPath: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  const token = `${process.pid} ${nodeCrypto().randomBytes(9).toString('base64url')}`;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, token);
      closeSync(fd);
      return () => {
        if (readLock(lockPath) === token) rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stale = staleLock(lockPath);
    if (stale !== undefined) {
      takeOverStaleLock(lockPath, stale);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CredrelayError(
        'STORE_FAILED',
        `the credential store is locked by another writer (${lockPath}) for more than ${timeoutMs / 1000} s: retry, or remove the lock file if no credrelay process is running`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
  }
}

const readLock = (lockPath: string): string | undefined => {
  try {
    return readFileSync(lockPath, 'utf8');
  } catch {
    return undefined;
  }
};

/** The content of a lock whose holder is dead (or that is too old), or undefined. */
function staleLock(lockPath: string): string | undefined {
  try {
    const content = readFileSync(lockPath, 'utf8');
    if (Date.now() - statSync(lockPath).mtimeMs > STALE_LOCK_MS) return content;
    const pid = Number.parseInt(content, 10);
    if (!Number.isInteger(pid) || pid <= 0) return undefined; // being written right now
    return isAlive(pid) ? undefined : content;
  } catch {
    return undefined; // removed meanwhile: the next attempt takes it
  }
}

/** Removes the stale lock judged to hold `judged`, if it still does, under the takeover guard. */
function takeOverStaleLock(lockPath: string, judged: string): void {
  const guard = `${lockPath}.takeover`;
  try {
    closeSync(openSync(guard, 'wx', 0o600));
  } catch {
    // Another writer is taking it over; a guard left by one that died is removed once it is old.
    try {
      if (Date.now() - statSync(guard).mtimeMs > STALE_LOCK_MS) rmSync(guard, { force: true });
    } catch {
      // Gone meanwhile.
    }
    return;
  }
  try {
    if (readLock(lockPath) === judged) rmSync(lockPath, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}
