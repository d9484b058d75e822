// Builds the native fast path of docker-credential-credrelay (the C files in src/native/). Run by the build
// (scripts/build.mjs, step "native"), so the packed package ships it prebuilt for the machine that packed it and an
// install runs no script; bin/docker-credential-credrelay runs it where it fits the machine, else the Node client.
//
// Without a C compiler, or when the build fails, there is no native client and the Node client answers: the reason
// is kept in build-note.txt beside where the client would be, for `credrelay doctor`. Run directly (tests), options:
// --out DIR, --node-client PATH (what a hand-over runs, with the node running this; without it the client finds
// bin/docker-credential-credrelay-node beside itself and node on PATH, so the package can move), --sanitize,
// --machine x86_64|aarch64 (another machine with Debian's cross compiler), --static.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The machine this Node runs on, as the kernel names it. */
const HOST_MACHINE = { x64: 'x86_64', arm64: 'aarch64' }[process.arch] ?? process.arch;

/** A program on PATH (absolute entries), or the given path if it exists. */
function which(name) {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.startsWith('/') && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The compiler for a machine, and whether it links against musl: for the machine that builds, $CC, else musl-gcc
 * when `musl` is asked (x86-64: a static musl binary runs on glibc and musl machines alike), else cc, gcc, clang; for
 * another machine, Debian's cross compiler (aarch64-linux-gnu-gcc). Undefined when there is none.
 */
function findCompiler(machine, musl) {
  if (machine !== HOST_MACHINE) {
    const cross = which(`${machine}-linux-gnu-gcc`);
    return cross === undefined ? undefined : { path: cross, musl: false };
  }
  if (process.env.CC)
    return which(process.env.CC) === undefined ? undefined : { path: which(process.env.CC), musl: false };
  if (musl && which('musl-gcc') !== undefined) return { path: which('musl-gcc'), musl: true };
  for (const name of ['cc', 'gcc', 'clang']) if (which(name) !== undefined) return { path: which(name), musl: false };
  return undefined;
}

/** The machines the package ships a native client for, each a static binary. */
export const SHIPPED_MACHINES = ['x86_64', 'aarch64'];

/** A module of the compiled tree: `npm run build` (or its compile step) comes first. */
const compiled = (path) => import(pathToFileURL(join(root, 'dist', 'src', path)).href);

/**
 * Builds into `out` (by default where the package looks for this machine's client, nativeClientDirectory in
 * src/core/paths.ts); returns why there is no native client, or undefined when it was built. The reason is also kept
 * in `out`/build-note.txt, which `credrelay doctor` reads.
 */
export async function buildNative({
  out: given,
  nodeClient,
  sanitize = false,
  machine = HOST_MACHINE,
  staticLink = false,
} = {}) {
  const { cString, nativeConfigHeader } = await compiled('native/native-config.js');
  const out = given ?? join(root, 'dist', 'native', `linux-${machine}`);
  const note = (line) => {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'build-note.txt'), `${line}\n`);
    return line;
  };
  if (process.platform === 'win32') return note('the native client is not built on Windows; the Node client answers');
  const compiler = findCompiler(machine, staticLink && !sanitize);
  if (compiler === undefined)
    return note(
      machine === HOST_MACHINE
        ? 'no C compiler found (cc, gcc or clang); the Node client answers'
        : `no cross compiler for ${machine} (${machine}-linux-gnu-gcc: Debian's gcc-${machine}-linux-gnu and libc6-dev-${machine === 'aarch64' ? 'arm64' : machine}-cross); the Node client answers`,
    );
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  mkdirSync(out, { recursive: true });
  // What the C shares with the TypeScript, from the TypeScript itself (compiled by the build's compile step).
  let header = nativeConfigHeader(version);
  if (nodeClient !== undefined)
    header += `#define CREDRELAY_NODE ${cString(process.execPath)}\n#define CREDRELAY_NODE_CLIENT ${cString(nodeClient)}\n`;
  writeFileSync(join(out, 'native-config.h'), header);
  const binary = join(out, 'docker-credential-credrelay');
  const native = join(root, 'src', 'native');
  const sources = readdirSync(native)
    .filter((file) => file.endsWith('.c'))
    .sort()
    .map((file) => join(native, file));
  const flags = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror', '-I', out];
  // Static: no loader and no libc needed on the machine that runs it, so one file serves glibc and musl machines.
  if (staticLink && !sanitize) flags.push('-static', '-s');
  if (sanitize)
    flags.push('-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer');
  try {
    execFileSync(compiler.path, [...flags, '-o', `${binary}.tmp`, ...sources], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    });
    renameSync(`${binary}.tmp`, binary);
    rmSync(join(out, 'build-note.txt'), { force: true }); // built: nothing left to explain
  } catch (error) {
    const detail = String(error.stderr ?? error.message)
      .trim()
      .split('\n')[0];
    return note(`the native client did not build (${detail}); the Node client answers`);
  }
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argument = (name) => {
    const index = process.argv.indexOf(name);
    return index === -1 ? undefined : resolve(process.argv[index + 1]);
  };
  const machineIndex = process.argv.indexOf('--machine');
  const reason = await buildNative({
    out: argument('--out'),
    nodeClient: argument('--node-client'),
    sanitize: process.argv.includes('--sanitize'),
    ...(machineIndex === -1 ? {} : { machine: process.argv[machineIndex + 1] }),
    staticLink: process.argv.includes('--static'),
  });
  if (reason !== undefined) process.stdout.write(`credrelay: ${reason}\n`);
}
