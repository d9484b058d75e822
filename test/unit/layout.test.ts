/** The README's layout section is the map a newcomer reads first: it must name every folder, and only real ones. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The paths the layout block lists, one per line (its first word). */
function listedPaths(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Layout\n'));
  const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter((path) => path.length > 0);
}

/** Folders (with a trailing slash) and source files directly in `dir`, as repository paths. */
function entries(dir: string, withFiles: boolean): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() || (withFiles && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')),
    )
    .map((entry) => `${dir}/${entry.name}${entry.isDirectory() ? '/' : ''}`);
}

describe('the README layout', () => {
  const listed = listedPaths(readFileSync(join(ROOT, 'README.md'), 'utf8'));

  it('lists only paths that exist', () => {
    expect(listed.length).toBeGreaterThan(20);
    expect(listed.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });

  it('lists every folder of src, src/core, plugins and test, every top-level module of src, and the top folders', () => {
    const expected = [
      ...entries('src', true),
      ...entries('src/core', false),
      ...entries('plugins', false),
      ...entries('test', false),
      ...['bin/', 'docs/', 'bench/', 'scripts/'],
    ].filter((path) => path !== 'src/core/');
    expect(expected.filter((path) => !listed.includes(path))).toEqual([]);
  });

  it('keeps src/core/util below the rest of core: it imports core only for its errors, so no folder of core cycles', () => {
    const util = join(ROOT, 'src', 'core', 'util');
    const reachedUp = readdirSync(util)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
      .flatMap((file) =>
        [...readFileSync(join(util, file), 'utf8').matchAll(/from '(\.\.\/[^']+)'/g)]
          .map((match) => match[1]!)
          .filter((specifier) => specifier !== '../errors.js')
          .map((specifier) => `${file} imports ${specifier}`),
      );
    expect(reachedUp).toEqual([]);
  });
});
