import { statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * A program as Go's exec.LookPath finds it on PATH: the first regular file of that name with an execute bit, as an
 * absolute path. Relative and empty entries are skipped, as Go skips them (ErrDot): a `.` or an empty entry in PATH
 * would run whatever an untrusted checkout in the current directory names `docker-credential-…` or `gh`. Undefined
 * when there is none.
 */
export function findOnPath(program: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, program);
    try {
      const stats = statSync(candidate);
      if (stats.isFile() && (stats.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** `docker-credential-<name>` as Docker finds it on PATH. */
export const findCredentialHelper = (name: string, path = process.env.PATH ?? ''): string | undefined =>
  findOnPath(`docker-credential-${name}`, path);
