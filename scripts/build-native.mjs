// Builds the native fast path of docker-credential-credrelay (the C files in src/native/). Run by the build
// (scripts/build.mjs, step "native"), so the packed package ships it prebuilt for the machine that packed it and an
// install runs no script; bin/docker-credential-credrelay runs it where it fits the machine, else the Node client.
//
// Without a C compiler, or when the build fails, there is no native client and the Node client answers: the reason
// is kept in build-note.txt beside where the client would be, for `credrelay doctor`. Run directly (tests), options:
// --out DIR, --node-client PATH (what a hand-over runs, with the node running this; without it the client finds
// bin/docker-credential-credrelay-node beside itself and node on PATH, so the package can move), --sanitize.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  for (const name of candidates) {
    if (name.includes('/')) {
      if (existsSync(name)) return name;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

/** A module of the compiled tree: `npm run build` (or its compile step) comes first. */
const compiled = (path) => import(pathToFileURL(join(root, 'dist', 'src', path)).href);

/**
 * Builds into `out` (by default where the package looks for this machine's client, nativeClientDirectory in
 * src/core/paths.ts); returns why there is no native client, or undefined when it was built. The reason is also kept
 * in `out`/build-note.txt, which `credrelay doctor` reads.
 */
export async function buildNative({ out: given, nodeClient, sanitize = false } = {}) {
  const { cString, nativeConfigHeader } = await compiled('native/native-config.js');
  const out = given ?? (await compiled('core/paths.js')).nativeClientDirectory(root);
  const note = (line) => {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'build-note.txt'), `${line}\n`);
    return line;
  };
  if (process.platform === 'win32') return note('the native client is not built on Windows; the Node client answers');
  const compiler = findCompiler();
  if (compiler === undefined) return note('no C compiler found (cc, gcc or clang); the Node client answers');
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
  if (sanitize)
    flags.push('-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer');
  try {
    execFileSync(compiler, [...flags, '-o', `${binary}.tmp`, ...sources], {
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
  const reason = await buildNative({
    out: argument('--out'),
    nodeClient: argument('--node-client'),
    sanitize: process.argv.includes('--sanitize'),
  });
  if (reason !== undefined) process.stdout.write(`credrelay: ${reason}\n`);
}
