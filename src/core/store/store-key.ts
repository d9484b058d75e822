import { nodeCrypto } from '../util/crypto.js';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { untrustedReason } from '../util/file-trust.js';
import { CredrelayError } from '../errors.js';

/**
 * Where the file store's key comes from. The key is derived from a passphrase with scrypt and kept in memory only:
 * - `credrelay unlock` hands the passphrase to the daemon, which keeps the derived keys until `credrelay lock` (or
 *   until it exits);
 * - on unattended machines `CREDRELAY_STORE_KEY_FILE` names a file holding the passphrase, the pattern of systemd's
 *   `LoadCredential=` and of a Kubernetes secret mounted as a file. It must belong to the user (or root) and be
 *   readable by nobody else.
 */

/** scrypt's parameters and the store's salt, kept in the store's file (none of it secret). */
export interface KdfParams {
  readonly algorithm: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64 */
  readonly salt: string;
}

/** Two keys from one derivation: one seals records, one names them (HMAC), so names say nothing either. */
export interface StoreKeys {
  readonly encryptionKey: Buffer;
  readonly idKey: Buffer;
}

export interface StoreKeySource {
  /** The keys for a store with these parameters; throws STORE_LOCKED (with what to do) when no key is at hand. */
  keysFor(kdf: KdfParams): Promise<StoreKeys>;
  /** Where the key would come from now, for `credrelay doctor`; undefined when the store is locked. */
  origin(): string | undefined;
}

/** 2^15 × 8 × 128 bytes = 32 MiB and ~0.1 s per derivation: OWASP's floor for scrypt, derived once per key. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const MAX_PASSPHRASE_BYTES = 4096;

export const newKdfParams = (): KdfParams => ({
  algorithm: 'scrypt',
  ...SCRYPT,
  salt: nodeCrypto().randomBytes(16).toString('base64'),
});

export function deriveKeys(passphrase: string, kdf: KdfParams): Promise<StoreKeys> {
  if (kdf.algorithm !== 'scrypt' || !(kdf.N >= 2 ** 14 && kdf.N <= 2 ** 20) || kdf.r !== 8 || kdf.p !== 1) {
    return Promise.reject(
      new CredrelayError('STORE_FAILED', 'the credential store names key-derivation parameters credrelay does not use'),
    );
  }
  return new Promise((resolve, reject) =>
    nodeCrypto().scrypt(
      passphrase,
      Buffer.from(kdf.salt, 'base64'),
      64,
      { ...kdf, maxmem: 256 * kdf.N * kdf.r },
      (error, key) => {
        if (error) return reject(new CredrelayError('STORE_FAILED', 'deriving the credential store key failed'));
        resolve({ encryptionKey: key.subarray(0, 32), idKey: key.subarray(32) });
      },
    ),
  );
}

/** Keys handed over by `credrelay unlock`; only a daemon ever holds them. */
let unlocked: { readonly salt: string; readonly keys: StoreKeys } | undefined;

export function rememberUnlockedKeys(kdf: KdfParams, keys: StoreKeys): void {
  unlocked = { salt: kdf.salt, keys };
}

/**
 * Forgets the unlocked keys, and the keys derived from key files (`lock` leaves no store key in memory; the next
 * request that needs one reads its key file again); whether a key from `credrelay unlock` was held. Module state
 * rather than the daemon's object: the file store reads it from wherever it is opened, and only this module writes it.
 */
export function forgetUnlockedKeys(): boolean {
  const had = unlocked !== undefined;
  unlocked = undefined;
  derived.clear();
  return had;
}

export const holdsUnlockedKeys = (): boolean => unlocked !== undefined;

/** Derivations from key files, by salt and the passphrase's hash, so a rotated key file is read afresh. */
const derived = new Map<string, Promise<StoreKeys>>();
const MAX_DERIVED = 8;

const LOCKED_FIX =
  'run `credrelay unlock` (the daemon keeps the key in memory), or set CREDRELAY_STORE_KEY_FILE to a file holding the passphrase';

export function createStoreKeySource(env: NodeJS.ProcessEnv = process.env, configPath?: string): StoreKeySource {
  const keyFile = env.CREDRELAY_STORE_KEY_FILE || undefined;
  // Where the file store was chosen, so that a locked store says which setting made it the store.
  const chosenBy = configPath === undefined ? '' : ` ("store": "file" in ${configPath})`;
  return {
    origin: () => (unlocked ? 'unlocked in the daemon' : keyFile ? `key file ${keyFile}` : undefined),
    async keysFor(kdf) {
      if (unlocked?.salt === kdf.salt) return unlocked.keys;
      if (keyFile === undefined) {
        throw new CredrelayError('STORE_LOCKED', `the credential store is locked${chosenBy}: ${LOCKED_FIX}`);
      }
      const passphrase = readKeyFile(keyFile);
      const id = `${kdf.salt}:${nodeCrypto().createHash('sha256').update(passphrase).digest('base64')}`;
      let keys = derived.get(id);
      if (keys === undefined) {
        if (derived.size >= MAX_DERIVED) derived.delete(derived.keys().next().value as string);
        keys = deriveKeys(passphrase, kdf);
        keys.catch(() => derived.delete(id));
        derived.set(id, keys);
      }
      return keys;
    },
  };
}

/** Reads the passphrase from a key file after checking that nobody else can read or replace it. */
export function readKeyFile(path: string): string {
  const refuse = (why: string, fix: string) =>
    new CredrelayError('STORE_LOCKED', `CREDRELAY_STORE_KEY_FILE ${path} ${why}: ${fix}`);
  if (!isAbsolute(path)) throw refuse('is not an absolute path', 'name the file by its absolute path');
  const uid = process.getuid?.();
  // Every directory on the path as written and on its real path (a mounted Kubernetes secret is a link), as for the
  // configuration: one that others can write could have the file swapped for a link to a file whose content they
  // know, and the first `store` would seal the store with it.
  const where = uid === undefined ? undefined : (untrustedDirectories(path, uid) ?? untrustedReason(path));
  if (where !== undefined) throw refuse(`is not safe: ${where.reason}`, where.fix);
  let fd: number;
  try {
    // Without blocking: a FIFO at the path would otherwise hold the request (and the daemon's file thread) until
    // something wrote to it; it is refused below as not a regular file.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path');
  }
  try {
    // The descriptor read is the one checked, not the path again.
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw refuse('is not a regular file', 'point it at the file that holds the passphrase');
    if (uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
      throw refuse(`belongs to uid ${stats.uid}, not to you (uid ${uid}) or root`, 'use a file you own');
    }
    if (uid !== undefined && (stats.mode & 0o077) !== 0) {
      throw refuse(
        `can be read or written by others (mode ${(stats.mode & 0o777).toString(8)})`,
        `make it private with chmod 600 ${path}`,
      );
    }
    if (stats.size > MAX_PASSPHRASE_BYTES) throw refuse('is larger than 4 KiB', 'put only the passphrase in it');
    const buffer = Buffer.alloc(MAX_PASSPHRASE_BYTES + 1);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    if (length > MAX_PASSPHRASE_BYTES) throw refuse('is larger than 4 KiB', 'put only the passphrase in it');
    const passphrase = buffer
      .subarray(0, length)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (passphrase.length === 0) throw refuse('is empty', 'put the passphrase in it');
    return passphrase;
  } finally {
    closeSync(fd);
  }
}

/**
 * The directories of a path as written (not resolved), and the link at its end: none may be writable by others
 * unless sticky, none may belong to anyone but the user or root, and a link in a sticky directory must be the
 * user's or root's (another user could have planted it before the file existed).
 */
function untrustedDirectories(path: string, uid: number): { reason: string; fix: string } | undefined {
  try {
    const link = lstatSync(path);
    if (link.isSymbolicLink() && link.uid !== uid && link.uid !== 0) {
      return { reason: `it is a link made by uid ${link.uid}`, fix: 'use a file of your own' };
    }
  } catch {
    return undefined; // missing: reported when it is opened
  }
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let stats;
    try {
      stats = statSync(dir);
    } catch {
      return undefined;
    }
    if (stats.uid !== uid && stats.uid !== 0) {
      return { reason: `${dir} belongs to uid ${stats.uid}`, fix: 'keep the key file in a directory of your own' };
    }
    const sticky = (stats.mode & 0o1000) !== 0;
    if ((stats.mode & 0o022) !== 0 && !sticky) {
      const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
      return { reason: `${dir} can be written by others (mode ${mode})`, fix: `chmod go-w ${dir}, or move the file` };
    }
    if (dirname(dir) === dir) return undefined;
  }
}
