// `npm run build`: every step that turns the TypeScript tree into what runs and what ships, in the order they depend
// on each other. docs/build.md explains each step and why it exists; `node scripts/build.mjs --only STEP` runs one.
//
//   1. clean     removes the last build's output, so nothing of a deleted file lingers
//   2. compile   tsc: the ES module tree in dist/src and dist/plugins (the daemon, the plugin API and its types)
//   3. vendor    the third-party packages that code imports, bundled into dist/node_modules, where Node resolves them
//                from dist/ before it looks in the package's own node_modules: an install needs only the keychain module
//   4. client    the protocol path as one CommonJS file (an ES module entry costs Node 20 its ESM loader per request)
//   5. cli       the management CLI and oclif as one CommonJS file, then oclif's manifest, then V8's code cache of it
//                (the cache is written by running the bundle, so it comes after the manifest that run reads)
//   6. native    the C client for linux-x86_64 and linux-aarch64 (dist/native/linux-<arch>/), static, with the
//                compilers that are here (musl-gcc, cc, aarch64-linux-gnu-gcc)
//   7. notices   the licenses of everything bundled by steps 3 to 5, in dist/THIRD-PARTY-NOTICES.md
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SHIPPED_MACHINES, buildNative } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

/**
 * The packages the built code imports at run time and the install no longer pulls: each is bundled into
 * dist/node_modules/<name>/index.js. The keychain module is not among them: it is a native module with a prebuilt
 * binary per platform, which npm picks at install.
 */
export const VENDORED = [
  '@aws-sdk/client-ecr',
  '@aws-sdk/client-ecr-public',
  '@aws-sdk/client-sts',
  '@aws-sdk/credential-providers',
  '@azure/identity',
  '@azure/logger',
  '@smithy/signature-v4',
  'google-auth-library',
  'node-cache',
];

/** What every bundle shares: Node 20, source maps beside the file, and the inputs recorded for the notices. */
const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  absWorkingDir: root,
};

/** Every bundle's inputs, for the notices step. */
const bundledInputs = new Set();
const record = (result) => {
  for (const input of Object.keys(result.metafile.inputs)) bundledInputs.add(input);
  return result;
};

function clean() {
  for (const part of ['src', 'plugins', 'node_modules', 'native', 'THIRD-PARTY-NOTICES.md'])
    rmSync(join(dist, part), { recursive: true, force: true });
  rmSync(join(root, 'oclif.manifest.json'), { force: true });
}

function compile() {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
    stdio: 'inherit',
  });
}

/**
 * One entry per package, re-exporting what the package exports by name (read from the package itself, so a CommonJS
 * package's names survive the bundle); shared code goes into chunks, so the AWS clients carry one copy of the SDK's
 * core, and each package still loads only when code imports it.
 */
async function vendor() {
  const entries = join(dist, 'node_modules', '.entries');
  mkdirSync(entries, { recursive: true });
  const entryPoints = {};
  for (const name of VENDORED) {
    const exported = Object.keys(await import(name));
    const named = exported.filter((key) => key !== 'default' && /^[A-Za-z_$][\w$]*$/.test(key));
    const file = join(entries, `${name.replace('/', '__')}.js`);
    const lines = [`export { ${named.join(', ')} } from '${name}';`];
    if (exported.includes('default')) lines.push(`export { default } from '${name}';`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    entryPoints[`${name}/index`] = file;
    const { version, license } = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8'));
    mkdirSync(join(dist, 'node_modules', name), { recursive: true });
    writeFileSync(
      join(dist, 'node_modules', name, 'package.json'),
      `${JSON.stringify({ name, version, license, type: 'module', main: 'index.js', description: "Bundled by credrelay's build (scripts/build.mjs); see dist/THIRD-PARTY-NOTICES.md." }, null, 2)}\n`,
    );
  }
  record(
    await build({
      ...shared,
      entryPoints,
      outdir: join(dist, 'node_modules'),
      format: 'esm',
      splitting: true,
      chunkNames: '.chunks/[name]-[hash]',
      // The CommonJS code inside (google-auth-library, node-cache) calls require() for Node's own modules.
      banner: {
        js: "import { createRequire as credrelayRequire } from 'node:module'; const require = credrelayRequire(import.meta.url);",
      },
    }),
  );
  rmSync(entries, { recursive: true, force: true });
}

/** Bundled code that reads import.meta.url, in a CommonJS file where import.meta does not exist. */
const importMetaUrl = {
  inject: [join(root, 'scripts', 'import-meta-url.js')],
  define: { 'import.meta.url': 'importMetaUrl' },
};

async function client() {
  record(
    await build({
      ...shared,
      ...importMetaUrl,
      entryPoints: [join(dist, 'src', 'bin', 'credential-helper.js')],
      outfile: join(dist, 'src', 'bin', 'credential-helper.cjs'),
      format: 'cjs',
      // Loaded only when the request needs them: answering in-process, or a management command.
      external: ['../serve-in-process.js', '../cli/bundle.cjs'],
    }),
  );
}

// bin/cli-loader.cjs runs the CLI bundle through vm with V8's code cache, and in Node 20 a function restored from a
// code cache cannot run import(). So every dynamic import in the bundle (oclif's plugin loader, the cloud SDKs,
// plugins) is rewritten to call the loader's own import(), which lives outside the cached script; loaded any other
// way, the bundle falls back to its own import().
const DYNAMIC_IMPORT = /(?<![\w$.])import\((?=[^)])/g;
const dynamicImportViaLoader = {
  name: 'dynamic-import-via-loader',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.(c|m)?js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!DYNAMIC_IMPORT.test(source)) return undefined;
      return {
        contents: source.replace(DYNAMIC_IMPORT, '(globalThis.credrelayImport ?? ((specifier) => import(specifier)))('),
        loader: 'js',
      };
    });
  },
};

async function cli() {
  // The autocomplete commands (of @oclif/plugin-autocomplete) go into the bundle too, rather than being loaded as an
  // oclif plugin at every start; their package exports no deep paths, so they are named by file.
  const autocomplete = (name) =>
    JSON.stringify(join(root, 'node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete', `${name}.js`));
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
  record(
    await build({
      ...shared,
      ...importMetaUrl,
      stdin: { contents: entry, resolveDir: root, sourcefile: 'cli-entry.js', loader: 'js' },
      outfile: join(dist, 'src', 'cli', 'bundle.cjs'),
      format: 'cjs',
      minify: true,
      keepNames: true,
      // Loaded when a command needs them: the cloud SDKs vendored in step 3 (each reached by a dynamic import, so as
      // the ES modules they are), the keychain module, and what oclif asks for only to run TypeScript sources, which
      // an installed CLI never has. node-cache is imported statically, so the bundle carries its few KB: a CommonJS
      // require of the vendored ES module would hand back its namespace, not the class.
      external: [
        ...VENDORED.filter((name) => name !== 'node-cache'),
        '@napi-rs/keyring',
        'typescript',
        'ts-node',
        'tsx',
        'esbuild',
      ],
      plugins: [dynamicImportViaLoader],
    }),
  );
  // oclif's manifest, as `oclif manifest` writes it in oclif's own plugins: the CLI learns every command's id, flags
  // and summary from one JSON file instead of importing every command module at each start.
  const { Plugin } = await import('@oclif/core');
  const plugin = new Plugin({
    root,
    type: 'core',
    ignoreManifest: true,
    errorOnManifestCreate: true,
    respectNoCacheDefault: true,
  });
  await plugin.load();
  if (Object.keys(plugin.manifest.commands).length === 0) throw new Error('oclif found no commands in the CLI bundle');
  writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
  // V8's code cache for the bundle, written after running `credrelay --help` once in a child (this process has
  // loaded oclif already), so that the functions a command start runs are compiled into it.
  execFileSync(
    process.execPath,
    [
      '-e',
      `const { loadCli } = require(${JSON.stringify(join(root, 'bin', 'cli-loader.cjs'))});
const { exports: cli, script, cachePath } = loadCli(false);
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = () => true; // the help text is not the point here
cli.runCli(['--help']).then(() => {
  process.stdout.write = write;
  require('node:fs').writeFileSync(cachePath, script.createCachedData());
});`,
    ],
    { stdio: 'inherit' },
  );
}

async function native() {
  // The launcher (bin/docker-credential-credrelay) runs a native client on Linux only; elsewhere the Node client
  // answers. Without a compiler the build goes on, and doctor says why there is no native client.
  if (process.platform !== 'linux') return;
  // One static binary per machine the package ships for (x86-64 with musl where musl-gcc is here, aarch64 with
  // Debian's cross compiler): each runs on glibc and musl (Alpine) machines alike. A machine without a compiler is
  // left to the Node client, its build-note.txt saying why.
  for (const machine of SHIPPED_MACHINES) {
    const note = await buildNative({ machine, staticLink: true });
    if (note !== undefined) process.stdout.write(`credrelay build: ${note}\n`);
  }
}

/** The package directory a bundled input came from: `node_modules/@scope/name` or `node_modules/name`, innermost. */
function packageOf(input) {
  const parts = input.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at === -1 || at + 1 >= parts.length) return undefined;
  const length = parts[at + 1].startsWith('@') ? 3 : 2;
  return parts.slice(0, at + length).join(sep);
}

function notices() {
  if (bundledInputs.size === 0)
    throw new Error('the notices step lists what steps 3 to 5 bundled in this run: run the whole build');
  const packages = new Map();
  for (const input of bundledInputs) {
    const directory = packageOf(input);
    // Inputs under dist/ are credrelay's own output (the vendor step's entries), not a package.
    if (directory === undefined || directory.startsWith(`dist${sep}`) || packages.has(directory)) continue;
    const manifest = JSON.parse(readFileSync(join(root, directory, 'package.json'), 'utf8'));
    const licenseFiles = readdirSync(join(root, directory)).filter((file) =>
      /^(licen[cs]e|copying|notice)/i.test(file),
    );
    packages.set(directory, { ...manifest, licenseFiles: licenseFiles.map((file) => join(directory, file)) });
  }
  const sections = [...packages.values()]
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version))
    .map((found) => {
      const texts = found.licenseFiles.map((file) => readFileSync(join(root, file), 'utf8').trim());
      const body =
        texts.length > 0
          ? texts.join('\n\n')
          : `License: ${found.license ?? 'see the package'} (the package ships no license file)`;
      return `## ${found.name} ${found.version}\n\n${found.license ?? ''}\n\n\`\`\`\n${body}\n\`\`\`\n`;
    });
  writeFileSync(
    join(dist, 'THIRD-PARTY-NOTICES.md'),
    `# Third-party notices\n\ncredrelay's build bundles these packages (scripts/build.mjs); their licenses follow.\n\n${sections.join('\n')}`,
  );
  return packages.size;
}

const STEPS = { clean, compile, vendor, client, cli, native, notices };

const only = process.argv.indexOf('--only');
const chosen = only === -1 ? Object.keys(STEPS) : [process.argv[only + 1]];
for (const name of chosen) {
  const step = STEPS[name];
  if (step === undefined) throw new Error(`no build step "${name}": the steps are ${Object.keys(STEPS).join(', ')}`);
  await step();
}
