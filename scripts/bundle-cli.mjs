// Bundles the management CLI (oclif and every command) into dist/src/cli/bundle.cjs, one file that starts fast.
//
// bin/cli-loader.cjs runs the bundle through vm with V8's code cache, and in Node 20 a function restored from a code
// cache cannot run import(). So every dynamic import in the bundle (oclif's plugin loader, the cloud SDKs, plugins)
// is rewritten to call the loader's own import(), which lives outside the cached script; loaded any other way, the
// bundle falls back to its own import().
import { readFile } from 'node:fs/promises';
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

await build({
  entryPoints: ['dist/src/cli/run.js'],
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
    'google-auth-library',
    '@napi-rs/keyring',
    '@oclif/plugin-autocomplete',
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
