// Bundles the management CLI (oclif and every command) into dist/src/cli/bundle.cjs, one file that starts fast.
//
// bin/cli-loader.cjs runs the bundle through vm with V8's code cache, and in Node 20 a function restored from a code
// cache cannot run import(). So every dynamic import in the bundle (oclif's plugin loader, the cloud SDKs, plugins)
// is rewritten to call the loader's own import(), which lives outside the cached script; loaded any other way, the
// bundle falls back to its own import().
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const DYNAMIC_IMPORT = /(?<![\w$.])import\((?=[^)])/g;

const viaLoader = {
  name: 'dynamic-import-via-loader',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.(c|m)?js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!DYNAMIC_IMPORT.test(source)) return undefined;
      return {
        contents: source.replace(DYNAMIC_IMPORT, '(globalThis.credrelayImport ?? ((specifier) => import(specifier)))('),
        loader: 'js',
      };
    });
  },
};

// The autocomplete commands (of @oclif/plugin-autocomplete) go into the bundle too, rather than being loaded as an
// oclif plugin at every start; their package exports no deep paths, so they are named by file.
const autocomplete = (name) =>
  JSON.stringify(join(process.cwd(), 'node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete', `${name}.js`));
const entry = `
import { COMMANDS } from './dist/src/cli/run.js';
import Autocomplete from ${autocomplete('index')};
import AutocompleteCreate from ${autocomplete('create')};
import AutocompleteScript from ${autocomplete('script')};
Object.assign(COMMANDS, {
  autocomplete: Autocomplete,
  'autocomplete:create': AutocompleteCreate,
  'autocomplete:script': AutocompleteScript,
});
export * from './dist/src/cli/run.js';
`;

await build({
  stdin: { contents: entry, resolveDir: process.cwd(), sourcefile: 'cli-entry.js', loader: 'js' },
  outfile: 'dist/src/cli/bundle.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  keepNames: true,
  // Loaded when a command needs them, from node_modules: the cloud SDKs, the keychain module, oclif's plugins.
  external: [
    '@aws-sdk/*',
    '@azure/*',
    'google-auth-library',
    '@napi-rs/keyring',
    'typescript',
    'ts-node',
    'tsx',
    'esbuild',
  ],
  inject: ['scripts/import-meta-url.js'],
  define: { 'import.meta.url': 'importMetaUrl' },
  plugins: [viaLoader],
  logLevel: 'warning',
});
