/**
 * The main script of credrelay's single executable (`npm run build:sea`): Node with credrelay inside, for machines
 * without Node.js (Kubernetes nodes, slim CI images). One file answers as `docker-credential-credrelay` (the protocol
 * and kubelet mode) under any name but `credrelay`, as `credrelay` (the CLI), and as the daemon.
 *
 * Node runs an executable's main script with a `require` that loads only Node's own modules, so the package itself
 * (the same files `npm install` puts on disk, the keychain's native module among them) travels as an asset and is
 * written once to a private directory, ~/.cache/credrelay/executable/VERSION-HASH, where the usual module loader
 * runs it. The directory is made 0700 under a temporary name and renamed into place when complete, so a start that
 * races another sees a whole copy or none; one that others could write is refused rather than run.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getAsset } from 'node:sea';
import { setFlagsFromString } from 'node:v8';
import { untrustedReason } from '../core/util/file-trust.js';

/** What the build packed (scripts/build-sea.mjs): every file, in the order its bytes follow each other in the blob. */
interface PackedIndex {
  readonly version: string;
  readonly sha256: string;
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number; readonly mode: number }>;
}

/** The file a marker names once a copy is complete: a copy without it was interrupted. */
const COMPLETE = '.complete';

function fail(message: string): never {
  // stdout, as every helper error: Docker shows it; stderr for people.
  process.stdout.write(`credrelay: ${message}\n`);
  process.stderr.write(`credrelay: ${message}\n`);
  process.exit(1);
}

function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'credrelay', 'executable');
}

/** The package's files, written once; the directory they are in. */
function unpacked(): string {
  const index = JSON.parse(getAsset('index.json', 'utf8')) as PackedIndex;
  const root = cacheRoot();
  const target = join(root, `${index.version}-${index.sha256.slice(0, 16)}`);
  // The cache directory first, before anything in it is looked at: made ours (0700) where missing, then checked with
  // every directory above it. Where someone else owns or can write any of them (XDG_CACHE_HOME=/tmp with a
  // credrelay/ another user made), nothing is read or run from it; in a directory only we can write, nobody else can
  // put a version directory in place, or flip one between absent and their own copy.
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (error) {
    fail(
      `cannot create ${root} (${(error as NodeJS.ErrnoException).code ?? 'error'}): set XDG_CACHE_HOME to a directory of your own`,
    );
  }
  const untrustedRoot = untrustedReason(root);
  if (untrustedRoot !== undefined)
    fail(
      `will not run credrelay from ${root}: ${untrustedRoot.reason}; ${untrustedRoot.fix}, or set XDG_CACHE_HOME to a directory of your own`,
    );
  if (!existsSync(join(target, COMPLETE))) {
    const blob = new Uint8Array(getAsset('files.bin'));
    if (createHash('sha256').update(blob).digest('hex') !== index.sha256)
      fail('this executable is damaged (its packed files do not match their hash): download it again');
    const staging = mkdtempSync(join(root, '.unpacking-'));
    let offset = 0;
    for (const file of index.files) {
      const path = join(staging, file.path);
      if (relative(staging, path).startsWith('..')) fail(`this executable packs a path outside itself: ${file.path}`);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, blob.subarray(offset, offset + file.size), { mode: file.mode & 0o755 });
      offset += file.size;
    }
    writeFileSync(join(staging, COMPLETE), `${index.version}\n`, { mode: 0o600 });
    try {
      renameSync(staging, target);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another start put its copy there first
    }
  }
  // Code run from here runs as this user: the copy itself is checked too (a real directory of ours), not by a path
  // that could lead elsewhere.
  const stats = lstatSync(target, { throwIfNoEntry: false });
  const uid = process.getuid?.();
  if (
    stats === undefined ||
    !stats.isDirectory() ||
    (uid !== undefined && stats.uid !== uid) ||
    (stats.mode & 0o022) !== 0
  )
    fail(
      `will not run credrelay from ${target}: it is not a directory of yours that only you can write; remove it, or set XDG_CACHE_HOME`,
    );
  return target;
}

const DAEMON_MAIN = join('dist', 'src', 'daemon', 'main.js');

function main(): void {
  const dir = unpacked();
  const load = createRequire(join(dir, 'package.json'));
  // Node passes the executable's path as argv[1] too, so the arguments start at 2, as for a script.
  const args = process.argv.slice(2);
  // The client starts the daemon as `EXECUTABLE [V8 flags] .../dist/src/daemon/main.js`, as it would `node`.
  const flags = args.filter((arg) => arg.startsWith('--'));
  const script = args[flags.length];
  if (script !== undefined && script === join(dir, DAEMON_MAIN)) {
    for (const flag of flags) setFlagsFromString(flag);
    process.argv = [process.execPath, script, ...args.slice(flags.length + 1)];
    // An ES module with top-level await: loaded through import(), which only a module on disk may call here.
    const importModule = load(join(dir, 'bin', 'import-module.cjs')) as (url: string) => Promise<unknown>;
    void importModule(pathToFileURL(script).href);
    return;
  }
  // Named `credrelay`, it is the CLI. Under any other name (docker-credential-credrelay, a kubelet plugin's
  // credrelay-ecr, ...) it is the helper, as the npm launcher is: the protocol actions and `kubelet`, and everything
  // else handed on to the CLI.
  const name = basename(process.argv0).replace(/\.exe$/i, '');
  load(join(dir, 'bin', name === 'credrelay' ? 'credrelay' : 'docker-credential-credrelay-node'));
}

main();
