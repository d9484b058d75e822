import { lstatSync } from 'node:fs';

/** Whether a runtime directory may hold credrelay's socket: what a client checks before it sends anything there. */
export type RuntimeDirVerdict =
  { readonly state: 'safe' } | { readonly state: 'missing' } | { readonly state: 'unsafe'; readonly reason: string };

/**
 * A socket in a directory someone else controls could be theirs, and would then receive our `store` requests.
 * So the directory must be a real directory (not a symlink), owned by us, and writable by nobody else.
 */
export function inspectRuntimeDir(dir: string): RuntimeDirVerdict {
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
  if (process.platform === 'win32') return { state: 'safe' };
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
  return { state: 'safe' };
}
