import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

const testFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });

/**
 * Suites run two at a time as one user, and `credrelay daemon stop --all` ends every daemon of the user, whatever
 * runtime directory it serves: a suite that runs it ends the daemons of the suite beside it mid-request (seen as a
 * CI failure: "the daemon closed the connection without answering"). A suite stops its own daemons by its runtime
 * directory; only one that runs `--all` as another user (setpriv) may run it.
 */
it('no suite runs `daemon stop --all` as the user the suites share', () => {
  // The suites that start processes; unit tests only parse arguments.
  const suites = ['integration', 'load', 'fuzz', 'contract'].flatMap((dir) => testFiles(join(ROOT, 'test', dir)));
  expect(suites.length).toBeGreaterThan(30);
  const offenders = suites
    .filter((file) => /'stop',\s*'--all'/.test(readFileSync(file, 'utf8')))
    .filter((file) => !/'--reuid=(?!0')\d+'/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file));
  expect(offenders).toEqual([]);
});
