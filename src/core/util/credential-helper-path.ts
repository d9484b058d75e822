import { statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * `docker-credential-<name>` as Docker finds it on PATH (exec.LookPath): the first regular file of that name with an
 * execute bit. Undefined when there is none.
 */
export function findCredentialHelper(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, `docker-credential-${name}`);
    try {
      const stats = statSync(candidate);
      if (stats.isFile() && (stats.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}
