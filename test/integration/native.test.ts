/**
 * The native client (src/native/) against the real daemon and against a hostile one. It is built
 * here with AddressSanitizer and UndefinedBehaviorSanitizer (and -Wall -Wextra -Werror), and its hand-over target is a
 * script that records each hand-over before it runs the Node client: so every case shows both what the user sees
 * and which client produced it.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../src/core/paths.js';
import { NODE_CLIENT, REPO_ROOT, helperEnvironment, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';
import { writeCredrelayConfig } from '../support/config.js';

const SANITIZER_ERROR = /AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/;

let dir: ReturnType<typeof makeTempDir>;
let session: Keyring;
let native: string;
let handovers: string;

/** Builds the native client into `out`, handing over to `nodeClient`; returns the build's output. */
function buildNative(out: string, nodeClient: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  return run(
    process.execPath,
    [join(REPO_ROOT, 'scripts', 'build-native.mjs'), '--out', out, '--node-client', nodeClient, ...extra],
    {
      env,
      timeoutMs: 120_000,
    },
  );
}

/**
 * A hand-over target (the native client runs it with node, as it runs the Node client) that records its arguments
 * and environment, then runs `then` (the Node client), or only says it was reached.
 */
function recordingTarget(path: string, log: string, then: string | undefined): void {
  writeFileSync(
    path,
    [
      "const { appendFileSync } = require('node:fs');",
      `appendFileSync(${JSON.stringify(log)}, 'handover ' + process.argv.slice(2).join(' ') + '\\n');`,
      `appendFileSync(${JSON.stringify(`${log}.env`)}, JSON.stringify(process.env) + '\\n');`,
      then ? `require(${JSON.stringify(then)});` : "process.stdout.write('HANDED-OVER');",
      '',
    ].join('\n'),
  );
}

const sanitizerEnv = {
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0:exitcode=86',
  UBSAN_OPTIONS: 'halt_on_error=1:exitcode=87',
};

// This suite runs the native client, which vitest.config.ts turns off (CREDRELAY_NATIVE=0) for the others.
delete process.env.CREDRELAY_NATIVE;
// Every variable tells environments apart, the sanitizers' too: the Node client and the daemons it starts carry
// them as well, so that both clients look for the same daemon.
Object.assign(process.env, sanitizerEnv);

beforeAll(async () => {
  dir = makeTempDir('native');
  session = await startKeyring();
  handovers = join(dir.path, 'handovers');
  const target = join(dir.path, 'to-node.cjs');
  recordingTarget(target, handovers, NODE_CLIENT);
  const built = await buildNative(join(dir.path, 'asan'), target, ['--sanitize']);
  expect(built.stdout + built.stderr).toBe('');
  native = join(dir.path, 'asan', 'docker-credential-credrelay');
  expect(existsSync(native)).toBe(true);
  // A registries entry whose secret is set nowhere: a `get` failure with both stdout and stderr.
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: { 'needs-secret.example': { provider: 'static', username: 'u', password: '$NATIVE_UNSET_SECRET' } },
  });
}, 180_000);
afterAll(async () => {
  // The daemons the suite's own runtime directories got, beside the session's.
  if (dir !== undefined) await stopCredrelayDaemon(join(dir.path, 'fresh-runtime'));
  await session?.stop();
  dir?.remove();
});

const handoverCount = (): number =>
  existsSync(handovers) ? readFileSync(handovers, 'utf8').split('\n').filter(Boolean).length : 0;

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly input?: string;
  /** Brings the store to the state the case starts from (run before each client). */
  readonly before?: () => Promise<void>;
  /** Answered by the daemon through the native client; otherwise handed to the Node client. */
  readonly native: boolean;
}

const store = (serverURL: string, username: string, secret: string) => async () => {
  const result = await runHelper(
    'store',
    JSON.stringify({ ServerURL: serverURL, Username: username, Secret: secret }),
    session.env,
  );
  expect(result.code).toBe(0);
};
const erase = (serverURL: string) => async () => {
  await runHelper('erase', serverURL, session.env);
};

const CASES: Case[] = [
  {
    name: 'get, stored',
    args: ['get'],
    input: 'native.example:5000',
    before: store('native.example:5000', 'alice', 'pw-1'),
    native: true,
  },
  {
    name: 'get, another spelling',
    args: ['get'],
    input: 'https://native.example:5000/v2/',
    before: store('native.example:5000', 'alice', 'pw-1'),
    native: true,
  },
  {
    name: 'get, Docker Hub spelling',
    args: ['get'],
    input: 'https://index.docker.io/v1/',
    before: store('docker.io', 'hub', 'pat'),
    native: true,
  },
  { name: 'get, not found', args: ['get'], input: 'nothing.example', native: true },
  { name: 'get, empty input', args: ['get'], input: '', native: true },
  { name: 'get, whitespace', args: ['get'], input: 'a b.example', native: true },
  { name: 'get, userinfo', args: ['get'], input: 'https://user:pw@native.example:5000', native: true },
  { name: 'get, oversized', args: ['get'], input: 'x'.repeat(70 * 1024), native: true },
  { name: 'get, non-ASCII', args: ['get'], input: 'régistry.example', native: true },
  {
    name: 'get, a route whose secret is unset (stdout and stderr)',
    args: ['get'],
    input: 'needs-secret.example',
    native: true,
  },
  {
    name: 'store',
    args: ['store'],
    input: '{"ServerURL":"stored.example","Username":"bob","Secret":"pw-2"}',
    before: erase('stored.example'),
    native: true,
  },
  { name: 'store, not JSON', args: ['store'], input: 'not json', native: true },
  {
    name: 'store, no username',
    args: ['store'],
    input: '{"ServerURL":"x.example","Username":"","Secret":"s"}',
    native: true,
  },
  { name: 'store, no server URL', args: ['store'], input: '{"Username":"u","Secret":"s"}', native: true },
  {
    name: 'store, oversized',
    args: ['store'],
    input: `{"ServerURL":"big.example","Username":"u","Secret":"${'s'.repeat(1_100_000)}"}`,
    native: true,
  },
  {
    name: 'store, secret with unicode and escapes',
    args: ['store'],
    input: '{"ServerURL":"uni.example","Username":"ü","Secret":"a\\"b\\\\c\\u0001☃😀"}',
    native: true,
  },
  {
    name: 'get, unicode secret',
    args: ['get'],
    input: 'uni.example',
    before: async () => {
      const stored = '{"ServerURL":"uni.example","Username":"ü","Secret":"a\\"b\\\\c\\u0001☃😀"}';
      expect((await runHelper('store', stored, session.env)).code).toBe(0);
    },
    native: true,
  },
  {
    name: 'erase, stored',
    args: ['erase'],
    input: 'stored.example',
    before: store('stored.example', 'bob', 'pw-2'),
    native: true,
  },
  { name: 'erase, never stored', args: ['erase'], input: 'never.example', native: true },
  { name: 'list', args: ['list'], native: true },
  { name: 'version', args: ['version'], native: false },
  { name: 'no action', args: [], native: false },
  { name: 'extra arguments', args: ['get', 'extra'], input: 'native.example:5000', native: false },
  { name: 'unknown action', args: ['fetch'], native: false },
  { name: 'CLI arguments', args: ['--version'], native: false },
  {
    name: 'kubelet',
    args: ['kubelet'],
    input: JSON.stringify({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderRequest',
      image: 'native.example:5000/app:1',
    }),
    native: false,
  },
];

describe('the native client and the Node client answer byte for byte alike', () => {
  it.each(CASES)('$name', async (testCase) => {
    await runHelper('list', '', session.env); // a warm daemon of this version
    await testCase.before?.();
    const viaNode = await run(NODE_CLIENT, testCase.args, { input: testCase.input ?? '', env: session.env });
    await testCase.before?.();
    const handedOverBefore = handoverCount();
    const viaNative = await run(native, testCase.args, {
      input: testCase.input ?? '',
      env: { ...session.env, ...sanitizerEnv },
    });
    expect(viaNative.stderr).not.toMatch(SANITIZER_ERROR);
    expect(viaNative).toEqual(viaNode);
    expect(handoverCount() - handedOverBefore, 'hand-overs').toBe(testCase.native ? 0 : 1);
  });

  it('hands over with CREDRELAY_NO_DAEMON=1 or CREDRELAY_NATIVE=0, and the answer is the same', async () => {
    for (const variable of [{ CREDRELAY_NO_DAEMON: '1' }, { CREDRELAY_NATIVE: '0' }]) {
      const env = { ...session.env, ...variable };
      const viaNode = await run(NODE_CLIENT, ['get'], { input: 'native.example:5000', env });
      const before = handoverCount();
      const viaNative = await run(native, ['get'], { input: 'native.example:5000', env: { ...env, ...sanitizerEnv } });
      expect(viaNative).toEqual(viaNode);
      expect(handoverCount() - before).toBe(1);
    }
  });

  it('hands over when no daemon runs, and the Node client starts one', async () => {
    await store('native.example:5000', 'alice', 'pw-1')();
    const fresh = { ...session.env, CREDRELAY_RUNTIME_DIR: join(dir.path, 'fresh-runtime') };
    const before = handoverCount();
    const first = await run(native, ['get'], { input: 'native.example:5000', env: { ...fresh, ...sanitizerEnv } });
    expect(JSON.parse(first.stdout)).toMatchObject({ Username: 'alice', Secret: 'pw-1' });
    expect(handoverCount() - before).toBe(1);
    const second = await run(native, ['get'], { input: 'native.example:5000', env: { ...fresh, ...sanitizerEnv } });
    expect(second).toEqual(first);
    expect(handoverCount() - before).toBe(1); // the daemon the first call started answered the second
  });

  it('finds the daemon of an environment with non-ASCII values and any variable as Node does', async () => {
    const env = {
      ...session.env,
      NATIVE_UNSET_SECRET: 'now-set grüße ☃ 😀',
      LANG: 'de_DE.UTF-8',
      LC_ALL: 'grüße',
      google_application_credentials: '/nowhere/key.json',
      _: '/usr/bin/docker',
    };
    await runHelper('list', '', env);
    const viaNode = await run(NODE_CLIENT, ['get'], { input: 'needs-secret.example', env });
    const before = handoverCount();
    const viaNative = await run(native, ['get'], { input: 'needs-secret.example', env: { ...env, ...sanitizerEnv } });
    expect(viaNative).toEqual(viaNode);
    expect(JSON.parse(viaNative.stdout)).toMatchObject({ Secret: 'now-set grüße ☃ 😀' });
    expect(handoverCount() - before).toBe(0);
  });
});

describe('a hostile or broken daemon', () => {
  let runtime: string;
  let env: Record<string, string>;
  let server: Server;
  let answer: (socket: Socket, request: string) => void = () => undefined;
  let fuzzNative: string;
  let fuzzLog: string;

  beforeAll(async () => {
    runtime = join(dir.path, 'hostile-runtime');
    mkdirSync(runtime, { mode: 0o700 });
    env = { ...session.env, CREDRELAY_RUNTIME_DIR: runtime };
    fuzzLog = join(dir.path, 'fuzz-handovers');
    const target = join(dir.path, 'fuzz-target.cjs');
    recordingTarget(target, fuzzLog, undefined);
    const built = await buildNative(join(dir.path, 'fuzz'), target, ['--sanitize']);
    expect(built.stdout + built.stderr).toBe('');
    fuzzNative = join(dir.path, 'fuzz', 'docker-credential-credrelay');
    const socketPath = resolvePaths(helperEnvironment(env)).socketPath;
    expect(dirname(socketPath)).toBe(runtime);
    server = createServer((socket) => {
      let received = '';
      socket.on('error', () => undefined);
      socket.on('data', (chunk) => {
        received += chunk.toString('utf8');
        if (received.includes('\n')) answer(socket, received);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  }, 180_000);
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const fuzzCount = (): number =>
    existsSync(fuzzLog) ? readFileSync(fuzzLog, 'utf8').split('\n').filter(Boolean).length : 0;

  /** Runs the native client against the current `answer`; returns its result and whether it handed over. */
  async function against(reply: (socket: Socket, request: string) => void, input = 'hostile.example') {
    answer = reply;
    const before = fuzzCount();
    const result = await runRaw(fuzzNative, ['get'], input, { ...env, ...sanitizerEnv });
    return { ...result, handedOver: fuzzCount() > before };
  }

  const ack = (socket: Socket) => socket.write('{"ack":true}\n');

  it("hands over, sending nothing, when the socket's listener is another user's (SO_PEERCRED)", async () => {
    // The listening socket passes to a process of uid 65534, as if the directory had been swapped for another
    // user's between the native client's check and its connect: the path and the socket file are as before.
    const socketPath = resolvePaths(helperEnvironment(env)).socketPath;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const foreign = createServer();
    await new Promise<void>((resolve) => foreign.listen(socketPath, resolve));
    const child = spawn(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        `let got = 0;
         process.on('message', (message, handle) => {
           if (message === 'count') return process.send(got);
           handle.on('connection', (socket) => socket.on('data', () => {
             got += 1;
             socket.write('{"ack":true}\\n');
             socket.end(JSON.stringify({ ok: true, result: { stdout: 'from another user', stderr: '', exitCode: 0 } }) + '\\n');
           }));
           process.send('ready');
         });`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    const nextMessage = () => new Promise<unknown>((resolve) => child.once('message', resolve));
    try {
      const ready = nextMessage();
      child.send('server', foreign);
      expect(await ready).toBe('ready');
      foreign.close(); // only the other user's process holds it now
      const before = fuzzCount();
      const result = await runRaw(fuzzNative, ['get'], 'hostile.example', { ...env, ...sanitizerEnv });
      expect(fuzzCount()).toBe(before + 1); // handed over to the Node client
      expect(result.stdout.toString('utf8')).not.toContain('from another user');
      const counted = nextMessage();
      child.send('count');
      expect(await counted).toBe(0); // the request never reached it
    } finally {
      child.kill('SIGKILL');
      await new Promise<void>((resolve) => server.listen(socketPath, resolve)); // the hostile daemon, for the rest
    }
  });
  const protocolReply = (stdout: string, stderr = '', exitCode = 0) =>
    `${JSON.stringify({ ok: true, result: { stdout, stderr, exitCode } })}\n`;

  it('answers from a well-formed reply, decoding what JSON.stringify escapes', async () => {
    const stdout = 'line "one"\\ \u0001\u001f ☃ 😀 \ud800 end\n';
    const result = await against((socket) => {
      ack(socket);
      socket.end(protocolReply(stdout, 'a notice\n', 1));
    });
    expect(result.handedOver).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stderr.toString('utf8')).toBe('a notice\n');
    expect(result.stdout).toEqual(Buffer.from(stdout, 'utf8')); // the lone surrogate as U+FFFD, as Node writes it
  });

  it.each<[string, (socket: Socket) => unknown]>([
    ['closes without a word', (socket: Socket) => socket.end()],
    ['answers garbage instead of the ack', (socket: Socket) => socket.end('garbage\n')],
    ['acks, then closes', (socket: Socket) => (ack(socket), socket.end())],
    ['acks, then a truncated reply', (socket: Socket) => (ack(socket), socket.end(protocolReply('x').slice(0, 20)))],
    ['acks, then a reply without a newline', (socket: Socket) => (ack(socket), socket.end(protocolReply('x').trim()))],
    [
      'acks, then an oversized line',
      (socket: Socket) => (
        ack(socket),
        socket.end(`{"ok":true,"result":{"stdout":"${'x'.repeat(3 * 1024 * 1024)}"}}\n`)
      ),
    ],
    [
      'acks, then another version',
      (socket: Socket) => (
        ack(socket),
        socket.end('{"ok":false,"code":"VERSION_MISMATCH","message":"this daemon is version 9","version":"9"}\n')
      ),
    ],
    [
      'acks, then an error reply',
      (socket: Socket) => (ack(socket), socket.end('{"ok":false,"code":"BUSY","message":"retry"}\n')),
    ],
    ['acks, then exitCode 2', (socket: Socket) => (ack(socket), socket.end(protocolReply('x', '', 2)))],
    ...['01', '1.5', '1e0', '-0', '0.0', '1E0', '00'].map(
      (code) =>
        [
          `acks, then exitCode ${code} (not the JSON the daemon writes)`,
          (socket: Socket) => (
            ack(socket),
            socket.end(`{"ok":true,"result":{"stdout":"x","stderr":"","exitCode":${code}}}\n`)
          ),
        ] as [string, (socket: Socket) => unknown],
    ),
    [
      'acks, then stdout a number',
      (socket: Socket) => (ack(socket), socket.end('{"ok":true,"result":{"stdout":1,"stderr":"","exitCode":0}}\n')),
    ],
    [
      'acks, then no stderr',
      (socket: Socket) => (ack(socket), socket.end('{"ok":true,"result":{"stdout":"x","exitCode":0}}\n')),
    ],
    [
      'acks, then a key twice',
      (socket: Socket) => (
        ack(socket),
        socket.end('{"ok":true,"result":{"stdout":"x","stdout":"y","stderr":"","exitCode":0}}\n')
      ),
    ],
    [
      'acks, then a bad escape',
      (socket: Socket) => (ack(socket), socket.end('{"ok":true,"result":{"stdout":"\\q","stderr":"","exitCode":0}}\n')),
    ],
    [
      'acks, then a raw control character',
      (socket: Socket) => (
        ack(socket),
        socket.end('{"ok":true,"result":{"stdout":"a\u0001b","stderr":"","exitCode":0}}\n')
      ),
    ],
    [
      'acks, then deep nesting',
      (socket: Socket) => (
        ack(socket),
        socket.end(
          `{"ok":true,"x":${'['.repeat(100_000)}${']'.repeat(100_000)},"result":{"stdout":"x","stderr":"","exitCode":0}}\n`,
        )
      ),
    ],
    ['acks, then trailing bytes', (socket: Socket) => (ack(socket), socket.end(`${protocolReply('x').trim()} junk\n`))],
    ['acks twice then garbage', (socket: Socket) => (ack(socket), ack(socket), socket.end('{"ok":tru\n'))],
  ])('%s: hands over, never crashes', async (_name, reply) => {
    const result = await against(reply);
    expect(result.stderr.toString('utf8')).not.toMatch(SANITIZER_ERROR);
    expect(result.signal).toBeNull();
    expect(result.handedOver).toBe(true);
    expect(result.stdout.toString('utf8')).toBe('HANDED-OVER');
  });

  it('a daemon that never acknowledges: hands over after the 2 s ack deadline', async () => {
    const started = Date.now();
    const result = await against(() => undefined);
    expect(result.handedOver).toBe(true);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('a daemon that took the request and then stalled or went away is not asked again by the Node client', async () => {
    const handoverEnvironment = () =>
      JSON.parse(readFileSync(`${fuzzLog}.env`, 'utf8').trim().split('\n').at(-1)!) as Record<string, string>;
    expect((await against((socket) => (ack(socket), socket.end()))).handedOver).toBe(true);
    expect(handoverEnvironment().CREDRELAY_HANDOVER).toBe('acknowledged');
    // Without an acknowledgement the daemon never had the request: the Node client may ask (and replace) it.
    expect((await against((socket) => socket.end('garbage\n'))).handedOver).toBe(true);
    expect(handoverEnvironment().CREDRELAY_HANDOVER).toBeUndefined();
    // The Node client so told answers in-process at once, and says why, without a connection to that daemon.
    let connections = 0;
    answer = () => (connections += 1);
    const told = await run(NODE_CLIENT, ['get'], {
      input: 'needs-secret.example',
      env: { ...env, CREDRELAY_HANDOVER: 'acknowledged' },
    });
    expect(connections).toBe(0);
    expect(told.stderr).toMatch(
      /^credrelay: the daemon acknowledged this request and then did not answer; serving it in-process/,
    );
    expect(told.stdout).toMatch(/secret NATIVE_UNSET_SECRET is not set/);
  });

  it('fuzzed replies: always a clean answer or a hand-over, never a crash', async () => {
    const replies = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
        fc.json().map((text) => Buffer.from(`{"ack":true}\n${text}\n`)),
        fc
          .record({
            stdout: fc.string({ unit: 'binary' }),
            stderr: fc.string(),
            exitCode: fc.constantFrom(0, 1, 2, -1, 0.5),
          })
          .map((result) => Buffer.from(`{"ack":true}\n${JSON.stringify({ ok: true, result })}\n`)),
        fc.tuple(fc.string({ unit: 'binary' }), fc.nat({ max: 80 })).map(([stdout, cut]) => {
          const text = `{"ack":true}\n${JSON.stringify({ ok: true, result: { stdout, stderr: '', exitCode: 0 } })}\n`;
          return Buffer.from(text.slice(0, Math.max(1, text.length - cut)));
        }),
      ),
      { numRuns: 120, seed: 4242 },
    );
    for (const bytes of replies) {
      const result = await against((socket) => socket.end(bytes));
      const where = bytes.toString('hex').slice(0, 120);
      expect(result.stderr.toString('utf8'), where).not.toMatch(SANITIZER_ERROR);
      expect(result.signal, where).toBeNull();
      expect([0, 1], where).toContain(result.code);
      if (!result.handedOver) expect(bytes.toString('utf8').startsWith('{"ack":true}\n'), where).toBe(true);
    }
  }, 120_000);

  it('never puts the stored secret in its own or the Node client’s arguments or environment', async () => {
    const secret = 'native-argv-canary-5513';
    const input = JSON.stringify({ ServerURL: 'canary.example', Username: 'u', Secret: secret });
    rmSync(`${fuzzLog}.env`, { force: true });
    let seen = '';
    answer = (socket) => {
      // While the client waits for the answer: its argv and environment, as any process on the machine sees them.
      const pid = findPid(fuzzNative);
      if (pid !== undefined) {
        seen = readFileSync(`/proc/${pid}/cmdline`, 'utf8') + readFileSync(`/proc/${pid}/environ`, 'utf8');
      }
      socket.end('{"ok":false,"code":"VERSION_MISMATCH","message":"x"}\n');
    };
    const result = await runRaw(fuzzNative, ['store'], input, { ...env, ...sanitizerEnv });
    expect(result.stdout.toString('utf8')).toBe('HANDED-OVER');
    expect(seen).toContain('store');
    expect(seen).not.toContain(secret);
    expect(readFileSync(fuzzLog, 'utf8')).not.toContain(secret);
    expect(readFileSync(`${fuzzLog}.env`, 'utf8')).not.toContain(secret);
  });
});

describe('building', () => {
  it('compiles cleanly with -Wall -Wextra -Werror at -O2 (the build that ships)', async () => {
    const built = await buildNative(join(dir.path, 'plain'), NODE_CLIENT);
    expect(built.code).toBe(0);
    expect(built.stdout + built.stderr).toBe('');
    expect(readFileSync(join(dir.path, 'plain', 'docker-credential-credrelay')).subarray(0, 4)).toEqual(
      Buffer.from([0x7f, 0x45, 0x4c, 0x46]),
    );
  });

  it('without a C compiler: one line says why, the build goes on, and nothing is built', async () => {
    const onlyNode = join(dir.path, 'only-node');
    mkdirSync(onlyNode);
    const built = await buildNative(join(dir.path, 'none'), NODE_CLIENT, [], {
      PATH: onlyNode,
      HOME: dir.path,
    });
    expect(built.code).toBe(0);
    expect(built.stdout).toBe('credrelay: no C compiler found (cc, gcc or clang); the Node client answers\n');
    expect(existsSync(join(dir.path, 'none', 'docker-credential-credrelay'))).toBe(false);
  });

  it('with a compiler that fails: one line says why, and the build goes on', async () => {
    const broken = join(dir.path, 'broken-cc');
    writeFileSync(broken, '#!/bin/sh\necho "cc: internal error" >&2\nexit 1\n');
    chmodSync(broken, 0o755);
    const built = await buildNative(join(dir.path, 'failed'), NODE_CLIENT, [], { ...process.env, CC: broken });
    expect(built.code).toBe(0);
    expect(built.stdout).toMatch(
      /^credrelay: the native client did not build \(cc: internal error\); the Node client answers\n$/,
    );
    expect(existsSync(join(dir.path, 'failed', 'docker-credential-credrelay'))).toBe(false);
  });
});

/** Runs a command with raw stdout and stderr bytes. */
function runRaw(
  command: string,
  args: readonly string[],
  input: string,
  env: Record<string, string | undefined>,
): Promise<{ stdout: Buffer; stderr: Buffer; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: helperEnvironment(env) as NodeJS.ProcessEnv });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish within 40 s`));
    }, 40_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), code, signal });
    });
  });
}

/** The pid of a running process whose executable is `path`. */
function findPid(path: string): number | undefined {
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      if (argv0 === path) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
