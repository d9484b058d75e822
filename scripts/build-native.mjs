// Builds the native fast path of docker-credential-credrelay (src/native/credential-client.c), the way esbuild puts
// its native binary in place of its JavaScript launcher at install. Run by npm at install (the "install" script).
//
// Without a C compiler, or when the build fails, the Node client stays in place and the install succeeds: one line
// says why. Options (for tests): --out DIR, --node-client PATH (what a hand-over runs), --sanitize (ASan + UBSan),
// --no-swap (leave bin/ alone).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argument = (name) => {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
};
const out = resolve(argument('--out') ?? join(root, 'dist', 'native'));
const nodeClient = resolve(argument('--node-client') ?? join(root, 'bin', 'docker-credential-credrelay-node'));
const sanitize = process.argv.includes('--sanitize');
const swap = !process.argv.includes('--no-swap') && process.env.CREDRELAY_NATIVE !== '0';
/**
 * One line on stdout, and kept in dist/native/build-note.txt for `credrelay doctor`: npm 11 shows an install
 * script's output only with --foreground-scripts, so the install log alone would hide why there is no fast path.
 */
const say = (line) => {
  process.stdout.write(`credrelay: ${line}\n`);
  try {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'build-note.txt'), `${line}\n`);
  } catch {
    // A read-only package directory: the line above is all there is.
  }
};

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

/** A C string literal: the paths are the user's, and may hold any byte. */
const cString = (text) =>
  `"${[...Buffer.from(text, 'utf8')].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join('')}"`;

function build() {
  if (process.platform === 'win32') return say('the native client is not built on Windows; the Node client stays');
  const compiler = findCompiler();
  if (compiler === undefined)
    return say('no C compiler found (cc, gcc or clang); docker-credential-credrelay stays the Node client');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'native-config.h'),
    [
      `#define CREDRELAY_VERSION ${cString(version)}`,
      `#define CREDRELAY_NODE ${cString(process.execPath)}`,
      `#define CREDRELAY_NODE_CLIENT ${cString(nodeClient)}`,
      '',
    ].join('\n'),
  );
  const binary = join(out, 'docker-credential-credrelay');
  const flags = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror', '-I', out];
  if (sanitize) flags.push('-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer');
  try {
    execFileSync(compiler, [...flags, '-o', `${binary}.tmp`, join(root, 'src', 'native', 'credential-client.c')], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    });
    renameSync(`${binary}.tmp`, binary);
    rmSync(join(out, 'build-note.txt'), { force: true }); // built: nothing left to explain
  } catch (error) {
    const detail = String(error.stderr ?? error.message).trim().split('\n')[0];
    return say(`the native client did not build (${detail}); docker-credential-credrelay stays the Node client`);
  }
  // An installed package (not a checkout) gets the native client in place of the JavaScript launcher, as esbuild
  // does; a checkout keeps its tracked launcher, and `npm run setup` links the native client instead.
  if (swap && !existsSync(join(root, '.git'))) {
    const launcher = join(root, 'bin', 'docker-credential-credrelay');
    copyFileSync(binary, `${launcher}.native`);
    chmodSync(`${launcher}.native`, 0o755);
    renameSync(`${launcher}.native`, launcher);
  }
}

build();
