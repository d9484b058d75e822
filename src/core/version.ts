import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * credrelay's version, from its package.json. Read on demand (a 1 KB file) rather than copied into the source,
 * so there is one place to bump it. The file is found by walking up, which works both from `dist/` and from
 * the TypeScript sources the tests run.
 */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'credrelay' && typeof manifest.version === 'string') return (cached = manifest.version);
    } catch {
      // Not here; keep walking up.
    }
    directory = dirname(directory);
  }
  return (cached = '0.0.0-unknown');
}
