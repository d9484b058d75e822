import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `root` whose bytes contain `needle`: where a secret must never be written. */
export function filesContaining(root: string, needle: string): string[] {
  const found: string[] = [];
  const visit = (path: string): void => {
    let stats;
    try {
      stats = statSync(path);
    } catch {
      return; // Sockets and files removed while we walk.
    }
    if (stats.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (stats.isFile() && readFileSync(path).includes(needle)) {
      found.push(path);
    }
  };
  visit(root);
  return found;
}
