import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import { commandRouting, commandStore } from '../shared/command-store.js';
import { describeDaemonState, probeDaemon } from '../shared/daemon-connection.js';
import { inspectRuntimeDir } from '../../core/wire/runtime-dir.js';
import { type Config, loadConfig, parseConfig } from '../../core/config.js';
import { dockerConfigPath, helperOnPath, readDockerConfig, HELPER_NAME } from '../docker/docker-config.js';
import { containersDropInPath, containersDropInState } from '../docker/containers-config.js';
import { findOnPath } from '../../core/util/credential-helper-path.js';
import { toCredrelayError } from '../../core/errors.js';
import { REGISTRY_SERVICE } from '../../core/store/secret-store.js';
import { nativeClientDirectory, resolvePaths } from '../../core/paths.js';
import { checkRoutes } from '../../service/command-service.js';
import { configuredSecrets } from '../../compose.js';
import { withDeadline } from '../../core/util/deadline.js';
import { packageVersion } from '../../core/version.js';

/** One line of `credrelay doctor`. */
export interface CheckResult {
  readonly check: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  /** What to do, for a warning or a failure. */
  readonly fix?: string;
}

const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail });
const fail = (check: string, detail: string, fix?: string): CheckResult => ({
  check,
  status: 'fail',
  detail,
  ...(fix ? { fix } : {}),
});
const warn = (check: string, detail: string, fix?: string): CheckResult => ({
  check,
  status: 'warn',
  detail,
  ...(fix ? { fix } : {}),
});

const PROVIDER_CHECK_DEADLINE_MS = 20_000;

/** Runs every check, in the order a broken set-up is best diagnosed. None of them prints a secret. */
export async function runChecks(): Promise<CheckResult[]> {
  const results = [
    checkHelperOnPath(),
    checkDockerConfig(),
    ...checkContainersConfig(),
    await checkSecretStore(),
    await checkDaemon(),
  ];
  results.push(...(await checkConfigAndProviders()));
  return results;
}

/**
 * podman, buildah and skopeo, where one is installed: they keep logins in their own auth file (the password in
 * base64) unless a registries.conf drop-in names credrelay among their credential helpers.
 */
function checkContainersConfig(): CheckResult[] {
  const tools = ['podman', 'buildah', 'skopeo'].filter((tool) => findOnPath(tool) !== undefined);
  if (tools.length === 0) return [];
  const dropIn = containersDropInPath();
  const state = containersDropInState(dropIn);
  if (state === 'ours') return [ok('podman, buildah, skopeo', `log in and look up through credrelay (${dropIn})`)];
  return [
    warn(
      'podman, buildah, skopeo',
      `${tools.join(', ')} ${tools.length === 1 ? 'keeps' : 'keep'} logins in ${tools.length === 1 ? 'its' : 'their'} own auth file, not in credrelay${state === 'foreign' ? ` (${dropIn} is not credrelay's)` : ''}`,
      'run `credrelay configure-docker --containers`',
    ),
  ];
}

function checkHelperOnPath(): CheckResult {
  const found = helperOnPath();
  if (found === undefined) {
    return fail(
      'helper on PATH',
      'docker-credential-credrelay is not on PATH, so Docker cannot run it',
      'run `npm link` in the credrelay checkout, or `npm install -g` the tarball `npm pack` makes there',
    );
  }
  const installation = fileURLToPath(new URL('../../../', import.meta.url));
  const native = nativeClientDirectory(installation);
  const candidates = ['bin/docker-credential-credrelay', join(native, 'docker-credential-credrelay')];
  let resolved: string;
  try {
    resolved = realpathSync(found);
  } catch {
    resolved = found;
  }
  // The single executable (`npm run build:sea`) is its own installation: Docker runs the very file running this.
  if (isSea() && resolved === realpathSync(process.execPath))
    return ok('helper on PATH', `${found} (Docker runs this single executable; credrelay ${packageVersion()})`);
  const ours = candidates.some((candidate) => {
    try {
      return realpathSync(resolve(installation, candidate)) === resolved;
    } catch {
      return false;
    }
  });
  if (!ours) {
    return warn(
      'helper on PATH',
      `Docker runs ${found}, which is not this installation (${installation})`,
      'put this installation first on PATH, or remove the other one',
    );
  }
  const built = join(native, 'docker-credential-credrelay');
  // The launcher (bin/docker-credential-credrelay) runs the native client whenever it is there for this machine.
  const client = !(isNativeExecutable(resolved) || (process.platform === 'linux' && isNativeExecutable(built)))
    ? `the Node client (no native client for ${basename(native)}${buildNote(native)}: run \`npm run build\` in a checkout with a C compiler for the fast path)`
    : process.env.CREDRELAY_NATIVE === '0'
      ? 'the Node client: CREDRELAY_NATIVE=0 makes the native client hand every request to it'
      : 'the native client, which answers from the daemon and hands the rest to the Node client';
  return ok('helper on PATH', `${found} (Docker runs ${client}; credrelay ${packageVersion()})`);
}

/** Why the build made no native client, as scripts/build-native.mjs noted it: `: <reason>`, or nothing. */
function buildNote(native: string): string {
  try {
    const note = readFileSync(join(native, 'build-note.txt'), 'utf8').trim().split('\n')[0];
    return note ? `: ${note.replace(/; the Node client answers$/, '')}` : '';
  } catch {
    return '';
  }
}

/** An ELF or Mach-O executable, rather than a script: what an install that found a compiler puts in place. */
function isNativeExecutable(path: string): boolean {
  const magic = Buffer.alloc(4);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, magic, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  const word = magic.readUInt32BE(0);
  return word === 0x7f454c46 || word === 0xcffaedfe || word === 0xcefaedfe || word === 0xfeedfacf;
}

function checkDockerConfig(): CheckResult {
  const path = dockerConfigPath();
  try {
    const { config, text } = readDockerConfig(path);
    if (text === undefined) return fail('docker config', `${path} does not exist`, 'run `credrelay configure-docker`');
    if (config.credsStore === HELPER_NAME)
      return ok('docker config', `${path}: "credsStore": "credrelay" (every registry)`);
    const helpers = Object.entries((config.credHelpers ?? {}) as Record<string, unknown>).filter(
      ([, helper]) => helper === HELPER_NAME,
    );
    if (helpers.length > 0) {
      return ok('docker config', `${path}: credHelpers send ${helpers.map(([host]) => host).join(', ')} to credrelay`);
    }
    const other = typeof config.credsStore === 'string' ? ` (credsStore is "${config.credsStore}")` : '';
    return fail('docker config', `${path} does not use credrelay${other}`, 'run `credrelay configure-docker`');
  } catch (error) {
    return fail('docker config', toCredrelayError(error).message);
  }
}

/** The store the configuration names (the OS keychain when the configuration cannot be read: see its own check). */
async function checkSecretStore(): Promise<CheckResult> {
  const { configPath } = resolvePaths();
  let config: Config;
  try {
    config = loadConfig(configPath);
  } catch {
    config = parseConfig({});
  }
  const check = config.store === 'file' ? 'file store' : 'keychain';
  const store = commandStore(config);
  try {
    const description = await store.describe?.();
    if (description !== undefined && !description.usable) throw new Error(description.detail);
    const items = await store.findCredentials(REGISTRY_SERVICE);
    const where = description ? `${description.backend}` : 'reachable';
    const detail = description?.detail ? `; ${description.detail}` : '';
    return ok(
      check,
      `reachable: ${where} ("store": "${config.store}")${detail}; ${items.length} registry credential(s) stored by credrelay`,
    );
  } catch (error) {
    // The store's messages end by pointing at this very command; here, say the rest.
    // Only credrelay's own texts reach here: the store's description, or a store error.
    const message = error instanceof Error ? error.message : toCredrelayError(error).message;
    // With the default store, a machine without a keychain has the file store: the fix says so, and where.
    const fix =
      config.store === 'auto' && !/"store": "file"/.test(message)
        ? `on a machine without a keychain (a server, a CI runner), turn on the encrypted file store with "store": "file" in ${configPath}`
        : undefined;
    return fail(check, message.replace(/,? or run `credrelay doctor`/, ''), fix);
  }
}

async function checkDaemon(): Promise<CheckResult> {
  const paths = resolvePaths();
  const verdict = inspectRuntimeDir(paths.runtimeDir, paths.socketPath);
  if (verdict.state === 'unsafe')
    return fail(
      'daemon',
      `${verdict.reason}; helpers will not use a socket there`,
      `remove it, or set CREDRELAY_RUNTIME_DIR to a directory only you can write`,
    );
  const probe = await probeDaemon(paths);
  if (probe.state === 'absent')
    return ok('daemon', `not running; the next helper call starts it on ${paths.socketPath}`);
  if (probe.state === 'starting') return ok('daemon', describeDaemonState(probe, paths.socketPath));
  if (probe.state === 'not-answering') {
    return fail(
      'daemon',
      `the daemon${probe.pid ? ` (pid ${probe.pid})` : ''} on ${paths.socketPath} does not answer: ${probe.reason}; every helper call waits for it, then answers in-process`,
      'run `credrelay daemon stop` (it ends a daemon that does not answer); the next helper call starts a fresh one',
    );
  }
  const { status } = probe;
  const mode = statSync(paths.socketPath).mode & 0o777;
  if (mode !== 0o600)
    return fail(
      'daemon',
      `the socket ${paths.socketPath} has mode ${mode.toString(8)}, not 600`,
      'run `credrelay daemon stop` and let it be recreated',
    );
  return ok(
    'daemon',
    `running (pid ${status.pid}, version ${status.version}) on ${paths.socketPath}, private (0700 directory, 0600 socket)`,
  );
}

async function checkConfigAndProviders(): Promise<CheckResult[]> {
  const path = resolvePaths().configPath;
  let router;
  let config;
  try {
    const routing = commandRouting();
    config = routing.config;
    router = await routing.router;
  } catch (error) {
    const message = toCredrelayError(error).message;
    // A file others could have written is fixed by its mode or owner (the message names the command), not an edit.
    const named = /; fix it with (.+)$/.exec(message)?.[1];
    return [
      fail(
        'config',
        message,
        `${named ?? `edit ${path} where the message says`}; every helper call fails with this error until then`,
      ),
    ];
  }
  const results = [
    ok(
      'config',
      existsSync(path)
        ? `${path}: ${config.registries.length} registries entr${config.registries.length === 1 ? 'y' : 'ies'}, ${config.plugins.length} plugin(s)`
        : `no file at ${path}: the defaults (each provider's own hosts, everything else in the OS keychain)`,
    ),
  ];
  // Each secret the configuration binds to a source, read once (the value is never shown): readable, or why not.
  const secrets = configuredSecrets(config);
  results.push(
    ...(await Promise.all(
      secrets.list().map(async ({ name, where }) => {
        try {
          await withDeadline(
            secrets.resolve(name)!,
            PROVIDER_CHECK_DEADLINE_MS,
            () => new Error(`no answer within ${PROVIDER_CHECK_DEADLINE_MS / 1000} s`),
          );
          return ok(`secret ${name}`, `${where}: readable`);
        } catch (error) {
          return fail(`secret ${name}`, toCredrelayError(error).message);
        }
      }),
    )),
  );
  for (const check of await checkRoutes(router, config, PROVIDER_CHECK_DEADLINE_MS))
    results.push(
      check.warning !== undefined
        ? warn(check.name, check.warning.detail, check.warning.fix)
        : check.ok
          ? ok(check.name, check.detail)
          : fail(check.name, check.detail),
    );
  return results;
}
