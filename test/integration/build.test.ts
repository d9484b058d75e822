import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/helper.js';

/**
 * What `npm run build` (scripts/build.mjs) makes must do what docs/build.md says it does, or fail here rather than
 * silently cost speed or size.
 */
const node = (source: string): string =>
  execFileSync(process.execPath, ['-e', source], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();

describe('the build', () => {
  it('makes a code cache for the CLI bundle that V8 accepts, so a command start skips compiling oclif', () => {
    const rejected = node(
      `const { loadCli } = require(${JSON.stringify(join(REPO_ROOT, 'bin', 'cli-loader.cjs'))});
       process.stdout.write(String(loadCli().script.cachedDataRejected));`,
    );
    expect(rejected).toBe('false');
  });

  it('runs one copy of the CLI bundle: oclif finds its commands in the running one, never a second oclif', () => {
    // bin/cli-loader.cjs compiles the bundle itself (vm.Script); any other copy would go through Module#_compile.
    const compiled = node(
      `const Module = require('node:module');
       const seen = [];
       const compile = Module.prototype._compile;
       Module.prototype._compile = function (content, filename) { seen.push(filename); return compile.apply(this, arguments); };
       const { loadCli } = require(${JSON.stringify(join(REPO_ROOT, 'bin', 'cli-loader.cjs'))});
       const write = process.stdout.write.bind(process.stdout);
       process.stdout.write = () => true;
       loadCli().exports.runCli(['doctor', '--help']).then(() => {
         write(JSON.stringify(seen.filter((file) => file.endsWith('bundle.cjs'))));
       });`,
    );
    expect(JSON.parse(compiled)).toEqual([]);
  });

  it("defines import.meta.url in both CommonJS bundles, never esbuild's empty stand-in", () => {
    for (const bundle of ['dist/src/bin/credential-helper.cjs', 'dist/src/cli/bundle.cjs']) {
      const source = readFileSync(join(REPO_ROOT, bundle), 'utf8');
      // What esbuild writes when import.meta is left undefined in a CommonJS bundle: every URL built on it breaks.
      expect(/\bimport_meta\d*\s*=\s*\{\}/.test(source), `${bundle} has an empty import.meta`).toBe(false);
      const defined = source.includes('require("node:url").pathToFileURL(__filename).href');
      expect(defined, `${bundle} defines import.meta.url from its own path`).toBe(true);
    }
  });

  it('vendors the SDKs: what the daemon imports by name resolves to the bundled copy in dist/node_modules', () => {
    const from = join(REPO_ROOT, 'dist', 'plugins', 'ecr', 'index.js');
    for (const name of [
      '@aws-sdk/client-ecr',
      '@aws-sdk/credential-providers',
      'google-auth-library',
      '@azure/identity',
      'node-cache',
    ]) {
      const resolved = node(
        `process.stdout.write(require('node:module').createRequire(${JSON.stringify(from)}).resolve(${JSON.stringify(name)}))`,
      );
      expect(resolved).toBe(join(REPO_ROOT, 'dist', 'node_modules', name, 'index.js'));
    }
    // And each bundled copy exports what the code imports from it.
    const exported = node(
      `Promise.all([import('./dist/node_modules/@aws-sdk/client-ecr/index.js'), import('./dist/node_modules/google-auth-library/index.js'), import('./dist/node_modules/@azure/identity/index.js'), import('./dist/node_modules/node-cache/index.js')])
        .then(([ecr, google, azure, cache]) => process.stdout.write([typeof ecr.ECRClient, typeof google.GoogleAuth, typeof azure.ClientAssertionCredential, typeof cache.default].join(' ')))`,
    );
    expect(exported).toBe('function function function function');
  });

  it('writes the licenses of what it bundled', () => {
    const notices = node(
      `process.stdout.write(require('node:fs').readFileSync('dist/THIRD-PARTY-NOTICES.md', 'utf8'))`,
    );
    for (const name of ['@aws-sdk/client-ecr', '@oclif/core', 'google-auth-library', '@azure/identity', 'node-cache'])
      expect(notices).toContain(`## ${name} `);
  });
});
