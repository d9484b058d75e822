/**
 * Every variable of a caller's environment tells daemons apart, except those listed as unable to change an answer
 * (IGNORED_VARIABLES, IGNORED_PREFIXES in src/core/paths.ts). Here the code that runs is read: every `process.env`
 * read of the bundled SDKs (dist/node_modules, as `npm run build` vendors them) and every variable the built-in
 * providers declare must be one the daemon counts; an SDK release that starts reading an ignored variable fails
 * this test until the list says why it may stay.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IGNORED_PREFIXES, IGNORED_VARIABLES, isIgnoredVariable, resolvePaths } from '../../src/core/paths.js';
import { createAcrProvider } from '../../plugins/acr/index.js';
import { createEcrProvider } from '../../plugins/ecr/index.js';
import { createGarProvider } from '../../plugins/gar/index.js';
import { createGhcrProvider } from '../../plugins/ghcr/index.js';
import { REPO_ROOT } from '../support/helper.js';

/**
 * Ignored variables an SDK reads, each with why its value still cannot change an answer. Empty today: an entry
 * needs a reason a reviewer accepts.
 */
const READ_BUT_IGNORED: Readonly<Record<string, string>> = {};

function javascriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return javascriptFiles(path);
    return /\.[cm]?js$/.test(entry.name) ? [path] : [];
  });
}

/** The names a text reads as `process.env.NAME` or `process.env["NAME"]`. */
function environmentReads(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(
    /process\.env\.([A-Za-z_$][\w$]*)|process\.env\[\s*(?:"([^"]+)"|'([^']+)'|`([^`$]+)`)\s*\]/g,
  ))
    names.add((match[1] ?? match[2] ?? match[3] ?? match[4])!);
  return names;
}

const bundled = javascriptFiles(join(REPO_ROOT, 'dist', 'node_modules'));
const reads = new Set(bundled.flatMap((file) => [...environmentReads(readFileSync(file, 'utf8'))]));

describe('which variables count', () => {
  it('finds the SDKs’ reads, the lowercase ones included (the scan can see what it checks)', () => {
    expect(bundled.length).toBeGreaterThan(3);
    for (const name of [
      'AWS_PROFILE',
      'GOOGLE_APPLICATION_CREDENTIALS',
      'google_application_credentials',
      'AZURE_CLIENT_ID',
    ])
      expect(reads, name).toContain(name);
    expect(environmentReads('process.env.TMPDIR; process.env["PWD"]')).toEqual(new Set(['TMPDIR', 'PWD']));
  });

  it('no variable a bundled SDK reads is one the daemon ignores, unless listed with a reason', () => {
    const ignoredReads = [...reads].filter((name) => isIgnoredVariable(name) && !(name in READ_BUT_IGNORED));
    expect(ignoredReads).toEqual([]);
  });

  it('no variable a built-in provider declares is ignored, and each declared one separates callers', () => {
    const declared = [createEcrProvider(), createGarProvider(), createAcrProvider(), createGhcrProvider()].flatMap(
      (provider) => provider.about?.reads ?? [],
    );
    expect(declared.length).toBeGreaterThan(10);
    const base = { HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000' };
    for (const name of declared.map((entry) => entry.replace(/\*$/, 'X'))) {
      expect(isIgnoredVariable(name), name).toBe(false);
      expect(resolvePaths({ ...base, [name]: 'a' }).environment, name).not.toBe(
        resolvePaths({ ...base, [name]: 'b' }).environment,
      );
    }
  });

  it('every ignored variable says why', () => {
    for (const [name, reason] of [...Object.entries(IGNORED_VARIABLES), ...Object.entries(IGNORED_PREFIXES)])
      expect(reason.length, name).toBeGreaterThan(10);
  });
});
