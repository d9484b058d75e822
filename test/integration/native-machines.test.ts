/**
 * The native client on the machines people run: the static aarch64 build (Debian's cross compiler) under
 * qemu-aarch64-static, answering the protocol byte for byte as the Node client does against the real x86-64 daemon
 * and refusing a hostile daemon as the x86-64 build does; and the static x86-64 build (musl) in a chroot that holds no
 * libc at all, as on Alpine or a distroless image. The builds are the ones `npm run build` ships
 * (dist/native/linux-<machine>/), built again here with a hand-over target the test can see.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../src/core/paths.js';
import { NODE_CLIENT, REPO_ROOT, helperEnvironment, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';

const QEMU = '/usr/bin/qemu-aarch64-static';
const toolchains = existsSync(QEMU) && existsSync('/usr/bin/aarch64-linux-gnu-gcc') && existsSync('/usr/bin/musl-gcc');

let dir: ReturnType<typeof makeTempDir>;
let session: Keyring;
let arm64: string;
let arm64Sanitized: string;
let musl: string;

// Like native.test.ts: these run the native client, which vitest.config.ts turns off for the other suites.
delete process.env.CREDRELAY_NATIVE;

/** Builds for a machine: static as the package ships it, or with AddressSanitizer and UBSan (dynamic, for qemu's -L). */
function build(out: string, machine: string, nodeClient: string, kind: '--static' | '--sanitize' = '--static') {
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, 'scripts', 'build-native.mjs'),
      '--out',
      out,
      '--node-client',
      nodeClient,
      '--machine',
      machine,
      kind,
    ],
    { stdio: 'ignore', timeout: 120_000 },
  );
  return join(out, 'docker-credential-credrelay');
}

/** Runs the aarch64 client under qemu-user: the sanitized one with its aarch64 runtime libraries, failing on a finding. */
const underQemu = (binary: string, sanitized: boolean) => (args: string[]) =>
  sanitized
    ? ([QEMU, ['-L', '/usr/aarch64-linux-gnu', binary, ...args]] as const)
    : ([QEMU, [binary, ...args]] as const);
const SANITIZER_ENV = {
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0:exitcode=86',
  UBSAN_OPTIONS: 'halt_on_error=1:exitcode=87',
};

/** Runs a command with stdin, its output as bytes. */
function runBytes(command: string, args: readonly string[], input: string, env: Record<string, string | undefined>) {
  return new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    const child = spawn(command, args, { env: helperEnvironment(env) as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish within 40 s`));
    }, 40_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}

beforeAll(async () => {
  if (!toolchains) return;
  dir = makeTempDir('native-machines');
  session = await startKeyring();
  // A hand-over target that says it was reached: every answer below must come from the daemon, not from it.
  const target = join(dir.path, 'handed-over.cjs');
  writeFileSync(target, "process.stdout.write('HANDED-OVER');\n");
  arm64 = build(join(dir.path, 'arm64'), 'aarch64', target);
  arm64Sanitized = build(join(dir.path, 'arm64-sanitized'), 'aarch64', target, '--sanitize');
  musl = build(join(dir.path, 'musl'), 'x86_64', target);
  const stored = JSON.stringify({ ServerURL: 'machines.example:5000', Username: 'arm', Secret: 'arm-secret-7' });
  expect((await runHelper('store', stored, session.env)).code).toBe(0); // through the daemon: it runs now
}, 180_000);
afterAll(async () => {
  await session?.stop();
  dir?.remove();
});

describe.runIf(toolchains)('the aarch64 client under qemu-user', () => {
  it('is a static aarch64 executable', () => {
    const kind = execFileSync('file', [arm64], { encoding: 'utf8' });
    expect(kind).toMatch(/ELF 64-bit LSB executable, ARM aarch64/);
    expect(kind).toMatch(/statically linked/);
  });

  it.each([
    ['get', 'machines.example:5000'],
    ['get', 'https://machines.example:5000/v2/'],
    ['get', 'never-stored.example'],
    ['list', ''],
    ['erase', 'never-stored.example'],
  ])(
    '%s %j: byte for byte the Node client, from the x86-64 daemon (static, and with ASan and UBSan)',
    async (action, input) => {
      // The sanitizers' options are part of the environment, so the Node client carries them too.
      const env = { ...session.env, ...SANITIZER_ENV };
      const viaNode = await runBytes(NODE_CLIENT, [action], input, env);
      for (const [binary, sanitized] of [
        [arm64, false],
        [arm64Sanitized, true],
      ] as const) {
        const [command, args] = underQemu(binary, sanitized)([action]);
        const viaArm = await runBytes(command, args, input, env);
        expect(viaArm.stdout).not.toBe('HANDED-OVER');
        expect(viaArm).toEqual(viaNode);
      }
    },
  );

  it('refuses a hostile daemon as the x86-64 build does: it hands over, sending nothing on', async () => {
    const runtime = join(dir.path, 'hostile-runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const env = { ...session.env, CREDRELAY_RUNTIME_DIR: runtime };
    const socketPath = resolvePaths(helperEnvironment(env)).socketPath;
    expect(dirname(socketPath)).toBe(runtime);
    let answer: (socket: Socket) => void = () => undefined;
    const server: Server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => answer(socket));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      for (const reply of [
        (socket: Socket) => socket.end('garbage\n'),
        (socket: Socket) => (socket.write('{"ack":true}\n'), socket.end('{"ok":true,"result":{"stdout":1}}\n')),
        (socket: Socket) => (socket.write('{"ack":true}\n'), socket.end()),
      ]) {
        answer = reply;
        for (const [binary, sanitized] of [
          [arm64, false],
          [arm64Sanitized, true],
        ] as const) {
          const [command, args] = underQemu(binary, sanitized)(['get']);
          const result = await runBytes(command, args, 'hostile.example', { ...env, ...SANITIZER_ENV });
          expect(result.stdout).toBe('HANDED-OVER');
          expect(result.stderr).not.toMatch(/AddressSanitizer|runtime error/);
        }
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe.runIf(toolchains)('the static x86-64 client (musl) with no libc on the machine', () => {
  it('is static, and answers from the daemon in a chroot that holds only itself', async () => {
    expect(execFileSync('file', [musl], { encoding: 'utf8' })).toMatch(/statically linked/);
    const root = join(dir.path, 'chroot');
    const runtimeDir = resolvePaths(helperEnvironment(session.env)).runtimeDir;
    mkdirSync(join(root, runtimeDir), { recursive: true });
    copyFileSync(musl, join(root, 'docker-credential-credrelay'));
    execFileSync('chmod', ['755', join(root, 'docker-credential-credrelay')]);
    // No /lib, no /usr: a dynamically linked binary would not even start here.
    expect(existsSync(join(root, 'lib'))).toBe(false);
    const viaNode = await runBytes(NODE_CLIENT, ['get'], 'machines.example:5000', session.env);
    // The daemon's private runtime directory, bound at the same path inside: the same environment finds the same socket.
    const inChroot = await run(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        `mount --bind "$1" "$2$1" && exec chroot "$2" /docker-credential-credrelay get`,
        'sh',
        runtimeDir,
        root,
      ],
      { input: 'machines.example:5000', env: session.env },
    );
    expect(inChroot.stderr).toBe('');
    expect(inChroot.stdout).toBe(viaNode.stdout);
    expect(JSON.parse(inChroot.stdout)).toMatchObject({ Secret: 'arm-secret-7' });
    expect(readFileSync(join(root, 'docker-credential-credrelay')).subarray(1, 4).toString()).toBe('ELF');
  });
});

describe.runIf(toolchains)('the arm64 single executable under qemu-user, with no node on the machine', () => {
  let executable: string;
  let env: Record<string, string | undefined>;
  beforeAll(() => {
    // Built from the official Node.js binary for arm64 of this Node's version, as the npm registry publishes it.
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-sea.mjs'), '--arch', 'arm64'], {
      stdio: 'ignore',
      timeout: 300_000,
    });
    const home = join(dir.path, 'arm64-home');
    const bin = join(home, 'bin');
    mkdirSync(join(home, 'config', 'credrelay'), { recursive: true, mode: 0o700 });
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(home, 'config', 'credrelay', 'config.json'),
      JSON.stringify({ registries: { 'arm.example': { username: 'robot', password: '$ARM_TOKEN' } } }),
      { mode: 0o600 },
    );
    // Under the name docs/kubernetes.md gives the kubelet plugin.
    executable = join(bin, 'credrelay-ecr');
    copyFileSync(join(REPO_ROOT, 'dist', 'sea', 'credrelay-linux-arm64'), executable);
    execFileSync('chmod', ['755', executable]);
    env = {
      HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_RUNTIME_DIR: join(home, 'run'),
      PATH: `${bin}:/nonexistent`, // no node anywhere
      ARM_TOKEN: 'arm-token-31',
      // qemu-user runs this process, not the ones it would start: the daemon (another aarch64 process) cannot
      // start here, so every request is answered in-process, as it is on a machine where the daemon cannot run.
      CREDRELAY_NO_DAEMON: '1',
    };
  }, 300_000);
  const qemu = (args: string[], input = '') =>
    run(
      'env',
      [
        '-i',
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        QEMU,
        '-L',
        '/usr/aarch64-linux-gnu',
        executable,
        ...args,
      ],
      {
        input,
        timeoutMs: 120_000,
      },
    );

  it('is an aarch64 executable, and answers --version', async () => {
    expect(execFileSync('file', [executable], { encoding: 'utf8' })).toMatch(/ARM aarch64/);
    const version = await qemu(['--version']);
    expect(version.stdout).toMatch(/^credrelay\/[\d.]+ linux-arm64 node-v20\./);
  });

  it('answers a protocol get and a kubelet request', async () => {
    const got = await qemu(['get'], 'arm.example');
    expect(JSON.parse(got.stdout)).toEqual({ ServerURL: 'arm.example', Username: 'robot', Secret: 'arm-token-31' });
    const kubelet = await qemu(
      ['kubelet'],
      JSON.stringify({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderRequest',
        image: 'arm.example/app:1',
      }),
    );
    expect(kubelet.code, kubelet.stderr).toBe(0);
    expect(JSON.parse(kubelet.stdout)).toMatchObject({
      auth: { 'arm.example': { username: 'robot', password: 'arm-token-31' } },
    });
  });
});
