import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';

/** Whether a runtime directory may hold credrelay's socket: what a client checks before it sends anything there. */
type RuntimeDirVerdict =
  { readonly state: 'safe' } | { readonly state: 'missing' } | { readonly state: 'unsafe'; readonly reason: string };

/**
 * The longest path a Unix socket can have: `sun_path` holds 108 bytes with the terminating NUL on Linux (104 on
 * macOS). Node does not refuse a longer one: it cuts it, and the socket it binds or reaches is then another path,
 * possibly in a directory someone else controls.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

const SHORTER = 'set CREDRELAY_RUNTIME_DIR to a shorter directory that only you can write (mkdir -m 700)';

/**
 * A socket in a directory someone else controls could be theirs, and would then receive our `store` requests.
 * So the directory must be a real directory (not a symlink), owned by us, and writable by nobody else; and the
 * socket path must fit a Unix socket whole.
 */
export function inspectRuntimeDir(dir: string, socketPath?: string): RuntimeDirVerdict {
  if (process.platform === 'win32') return { state: 'safe' };
  // The daemon runs in /, so a relative directory would be another directory for it than for its clients.
  if (!isAbsolute(dir)) {
    return {
      state: 'unsafe',
      reason: `the runtime directory ${JSON.stringify(dir)} is a relative path (CREDRELAY_RUNTIME_DIR must be absolute): name it from /`,
    };
  }
  if (socketPath !== undefined && Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    return {
      state: 'unsafe',
      reason: `the socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket holds: ${SHORTER}`,
    };
  }
  let stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return {
      state: 'unsafe',
      reason: `cannot inspect the runtime directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  if (stats.isSymbolicLink()) return { state: 'unsafe', reason: `the runtime directory ${dir} is a symbolic link` };
  if (!stats.isDirectory()) return { state: 'unsafe', reason: `the runtime directory ${dir} is not a directory` };
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    return {
      state: 'unsafe',
      reason: `the runtime directory ${dir} belongs to uid ${stats.uid}, not to you (uid ${uid})`,
    };
  }
  if ((stats.mode & 0o022) !== 0) {
    return {
      state: 'unsafe',
      reason: `the runtime directory ${dir} is writable by others (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); it must be 0700`,
    };
  }
  const ancestor = unsafeAncestor(dir, uid);
  if (ancestor !== undefined) return { state: 'unsafe', reason: `the runtime directory ${dir} is under ${ancestor}` };
  return { state: 'safe' };
}

/**
 * A directory above the runtime directory through which another user could swap it for one of theirs: one they own,
 * or one they can write that is not sticky (in a sticky directory such as /tmp nobody can rename another's entry).
 */
function unsafeAncestor(dir: string, uid: number | undefined): string | undefined {
  for (let current = dirname(dir); ; current = dirname(current)) {
    let stats;
    try {
      stats = statSync(current);
    } catch {
      return `${current}, which cannot be inspected`;
    }
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
    if (uid !== undefined && stats.uid !== uid && stats.uid !== 0)
      return `${current}, which belongs to uid ${stats.uid}`;
    if ((stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0)
      return `${current}, which others can write (mode ${mode}) and so swap it: ${SHORTER}`;
    if (dirname(current) === current) return undefined;
  }
}

/**
 * The runtime directory, created if it is missing, and checked. A missing directory is created (0700) only where
 * nobody else can create it first: when its nearest existing ancestor is writable by others (a sticky /tmp, say),
 * another user could plant a directory or a symbolic link there between our look and our use, so it is refused.
 * mkdir never follows a link at the last component, and the result is checked again after creation.
 */
export function ensureRuntimeDir(dir: string, socketPath?: string): RuntimeDirVerdict {
  const verdict = inspectRuntimeDir(dir, socketPath);
  if (verdict.state !== 'missing') return verdict;
  const ancestor = nearestExistingAncestor(dir);
  if (ancestor !== undefined && (ancestor.mode & 0o022) !== 0) {
    return {
      state: 'unsafe',
      reason: `the runtime directory ${dir} does not exist, and ${ancestor.path} can be written by others, who could create it first: create it yourself (mkdir -m 700 ${dir}), or ${SHORTER}`,
    };
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    return {
      state: 'unsafe',
      reason: `cannot create the runtime directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  const created = inspectRuntimeDir(dir, socketPath);
  return created.state === 'missing' ? { state: 'unsafe', reason: `the runtime directory ${dir} vanished` } : created;
}

function nearestExistingAncestor(dir: string): { path: string; mode: number } | undefined {
  for (let path = dirname(dir); ; path = dirname(path)) {
    try {
      return { path, mode: lstatSync(path).mode };
    } catch {
      if (dirname(path) === path) return undefined;
    }
  }
}
