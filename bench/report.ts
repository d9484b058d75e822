/**
 * `npm run bench [-- --rounds N]`: credrelay's benchmark report, measured side by side in one run (this machine is
 * noisy: within each section the commands run interleaved, round by round, in a shuffled order). It writes
 * docs/benchmark.md and docs/benchmark.svg, and prints the table.
 *
 * A. a warm `get`: bare node, credrelay's native client, its Node client and its single executable through a warm
 *    daemon, in-process, and Debian's Go helpers (docker-credential-secretservice on the same keyring; docker-credential-ecr-login on a warm
 *    file cache);
 * B. the first `get` for a new ECR registry, against moto with 150 ms of upstream latency, with and without the daemon;
 * C. a `docker build`-like burst: `list`, then one `get` for each of 20 registries;
 * D. the management CLI's start: `credrelay --version` (also as the single executable), `--help` and `route HOST`,
 *    against bare node;
 * E. what each trick of the build pays (docs/build.md), each against the same work without it: the Node client's
 *    bundle against the module tree it is made from, and the CLI bundle's V8 code cache against none.
 *
 * Every command reads a credential that exists. Nothing leaves this machine: AWS calls go to moto on loopback, and the
 * Go ECR helper, which ignores AWS_ENDPOINT_URL_ECR, runs only on its warm cache with its proxy set to a closed port.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { nativeClientDirectory } from '../src/core/paths.js';
import { startAwsProxy } from '../test/support/aws-proxy.js';
import { existsSync } from 'node:fs';
import { CLI, REPO_ROOT, pathWithCredrelay } from '../test/support/helper.js';
import { startKeyring } from '../test/support/keyring.js';
import { startMoto } from '../test/support/moto.js';
import { makeTempDir } from '../test/support/temp.js';

const roundsArgument = process.argv.indexOf('--rounds');
const ROUNDS = roundsArgument === -1 ? 40 : Number(process.argv[roundsArgument + 1]);
const WARMUP = 3;
const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
/** The native client as the install builds it, and the Node client it hands over to. */
const NATIVE = join(nativeClientDirectory(REPO_ROOT), 'docker-credential-credrelay');
const NODE_CLIENT = join(REPO_ROOT, 'bin', 'docker-credential-credrelay-node');
/** The single executable (`npm run build:sea`), run under the protocol's name as it is installed. */
const SINGLE_EXECUTABLE = join(REPO_ROOT, 'dist', 'sea', 'credrelay');
if (!existsSync(SINGLE_EXECUTABLE)) throw new Error(`${SINGLE_EXECUTABLE} is missing: run \`npm run build:sea\``);
if (!existsSync(NATIVE))
  throw new Error(`${NATIVE} is missing: run \`npm run build\` (the native client needs a C compiler)`);

interface Subject {
  readonly section: 'A' | 'B' | 'C' | 'D' | 'E';
  readonly label: string;
  /** One measured unit of work; rejects if any command in it fails. */
  readonly run: (round: number) => Promise<void>;
}
interface Stats {
  readonly median: number;
  readonly p25: number;
  readonly p75: number;
  readonly p95: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const statsOf = (values: number[]): Stats => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    p95: quantile(sorted, 0.95),
  };
};

/**
 * Runs a command to completion. Asynchronous on purpose: the recording proxy in front of moto lives in this process,
 * and a synchronous spawn would stop it from answering the very command being timed.
 */
function exec(command: string, args: string[], input: string, env: NodeJS.ProcessEnv, expect?: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || (expect && !expect.test(stdout)))
        reject(new Error(`${command} ${args.join(' ')} failed: ${stdout}${stderr}`));
      else resolve();
    });
    child.stdin.end(input);
  });
}

/** Runs the subjects of one section interleaved and shuffled, round by round; returns milliseconds per subject. */
async function measure(subjects: Subject[], rounds: number): Promise<Map<Subject, number[]>> {
  const samples = new Map(subjects.map((subject) => [subject, [] as number[]]));
  for (let round = 0; round < WARMUP + rounds; round += 1) {
    for (const subject of [...subjects].sort(() => Math.random() - 0.5)) {
      const started = process.hrtime.bigint();
      await subject.run(round);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (round >= WARMUP) samples.get(subject)!.push(ms);
    }
  }
  return samples;
}

/** The Go ECR helper's cache key: region, a checksum of the access key (base64 of the key bytes and MD5 of nothing), the account. */
const ecrLoginCacheKey = (region: string, accessKeyId: string, account: string) =>
  `${region}-${Buffer.concat([Buffer.from(accessKeyId), createHash('md5').digest()]).toString('base64')}-${account}`;

const [session, moto] = await Promise.all([startKeyring(), startMoto()]);
const proxy = await startAwsProxy(moto.endpoint);
const scratch = makeTempDir('bench');
try {
  const aws = {
    AWS_ACCESS_KEY_ID: 'AKIDBENCH00000000001',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const env: NodeJS.ProcessEnv = { ...process.env, ...session.env, ...aws, PATH: pathWithCredrelay() };
  const inProcess = { ...env, CREDRELAY_NO_DAEMON: '1' };
  const empty = join(scratch.path, 'empty.js');
  writeFileSync(empty, '');

  // Credentials that exist: one registry in both keyring helpers, 20 more for the burst, a cached ECR token.
  const registries = Array.from({ length: 20 }, (_, i) => `burst-${i}.example:5000`);
  for (const host of ['bench.example:5000', ...registries]) {
    const document = JSON.stringify({ ServerURL: host, Username: 'bench', Secret: 'bench-secret' });
    for (const helper of [NODE_CLIENT, 'docker-credential-secretservice']) await exec(helper, ['store'], document, env);
  }
  proxy.behaviour.expiresInSeconds = 12 * 3600;
  await exec(NODE_CLIENT, ['get'], ECR_HOST, env, /123456789012-auth-token/);

  // The Go ECR helper's warm cache, as it writes it after a first call.
  const ecrCache = join(scratch.path, 'ecr-cache');
  mkdirSync(ecrCache, { recursive: true, mode: 0o700 });
  const now = Date.now();
  writeFileSync(
    join(ecrCache, 'cache.json'),
    JSON.stringify({
      Version: '1.0',
      Registries: {
        [ecrLoginCacheKey('us-east-1', aws.AWS_ACCESS_KEY_ID, '123456789012')]: {
          AuthorizationToken: Buffer.from('AWS:warm-cache-token').toString('base64'),
          RequestedAt: new Date(now).toISOString(),
          ExpiresAt: new Date(now + 12 * 3600_000).toISOString(),
          ProxyEndpoint: `https://${ECR_HOST}`,
          Service: 'ecr',
        },
      },
    }),
  );
  const ecrLoginEnv = {
    ...env,
    HOME: scratch.path,
    AWS_ECR_CACHE_DIR: ecrCache,
    HTTPS_PROXY: 'http://127.0.0.1:1',
    HTTP_PROXY: 'http://127.0.0.1:1',
  };

  const seaBin = join(scratch.path, 'single-executable');
  mkdirSync(seaBin);
  symlinkSync(SINGLE_EXECUTABLE, join(seaBin, 'docker-credential-credrelay'));
  const seaHelper = join(seaBin, 'docker-credential-credrelay');
  await exec(seaHelper, ['version'], '', env); // unpacks its files once, as a first run on a machine does

  // The shipped native client is static (musl on x86-64); the same sources built as before, dynamic against glibc,
  // beside it: the static build must be no slower.
  const dynamicNative = join(scratch.path, 'dynamic', 'docker-credential-credrelay');
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-native.mjs'), '--out', dirname(dynamicNative)], {
    stdio: 'ignore',
  });
  const warm: Subject[] = [
    { section: 'A', label: 'node, empty script', run: () => exec(process.execPath, [empty], '', env) },
    {
      section: 'A',
      label: 'credrelay get, native client built dynamic (glibc), warm daemon (keychain)',
      run: () => exec(dynamicNative, ['get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'A',
      label: 'credrelay get, native client, warm daemon (keychain)',
      run: () => exec(NATIVE, ['get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'A',
      label: 'credrelay get, native client, warm daemon (ECR token cached)',
      run: () => exec(NATIVE, ['get'], ECR_HOST, env, /auth-token/),
    },
    {
      section: 'A',
      label: 'credrelay get, Node client, warm daemon (keychain)',
      run: () => exec(NODE_CLIENT, ['get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'A',
      label: 'credrelay get, Node client, warm daemon (ECR token cached)',
      run: () => exec(NODE_CLIENT, ['get'], ECR_HOST, env, /auth-token/),
    },
    {
      section: 'A',
      label: 'credrelay get, single executable, warm daemon (keychain)',
      run: () => exec(seaHelper, ['get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'A',
      label: 'credrelay get, in-process (keychain)',
      run: () => exec(NODE_CLIENT, ['get'], 'bench.example:5000', inProcess, /bench-secret/),
    },
    {
      section: 'A',
      label: 'docker-credential-secretservice get (Go)',
      run: () => exec('docker-credential-secretservice', ['get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'A',
      label: 'docker-credential-ecr-login get, warm file cache (Go)',
      run: () => exec('docker-credential-ecr-login', ['get'], ECR_HOST, ecrLoginEnv, /warm-cache-token/),
    },
  ];
  proxy.behaviour.delayMs = 150;
  let account = 300000000000;
  const first: Subject[] = [
    {
      section: 'B',
      label: 'credrelay first get, new registry, warm daemon',
      run: () => exec(NATIVE, ['get'], `${(account += 1)}.dkr.ecr.us-east-1.amazonaws.com`, env, /auth-token/),
    },
    {
      section: 'B',
      label: 'credrelay first get, new registry, in-process',
      run: () =>
        exec(NODE_CLIENT, ['get'], `${(account += 1)}.dkr.ecr.us-east-1.amazonaws.com`, inProcess, /auth-token/),
    },
  ];
  const burst = (helper: string, helperEnv: NodeJS.ProcessEnv) => async () => {
    await exec(helper, ['list'], '', helperEnv, /burst-19/);
    for (const host of registries) await exec(helper, ['get'], host, helperEnv, /bench-secret/);
  };
  const bursts: Subject[] = [
    { section: 'C', label: 'credrelay list + 20 gets, native client, warm daemon', run: burst(NATIVE, env) },
    { section: 'C', label: 'credrelay list + 20 gets, Node client, warm daemon', run: burst(NODE_CLIENT, env) },
    { section: 'C', label: 'credrelay list + 20 gets, in-process', run: burst(NODE_CLIENT, inProcess) },
    {
      section: 'C',
      label: 'docker-credential-secretservice list + 20 gets (Go)',
      run: burst('docker-credential-secretservice', env),
    },
  ];

  const cliStart: Subject[] = [
    { section: 'D', label: 'node, empty script (CLI section)', run: () => exec(process.execPath, [empty], '', env) },
    { section: 'D', label: 'credrelay --version', run: () => exec(CLI, ['--version'], '', env, /^credrelay\/0/) },
    {
      section: 'D',
      label: 'credrelay --version, single executable',
      run: () => exec(SINGLE_EXECUTABLE, ['--version'], '', env, /^credrelay\/0/),
    },
    { section: 'D', label: 'credrelay --help', run: () => exec(CLI, ['--help'], '', env, /COMMANDS/) },
    {
      section: 'D',
      label: 'credrelay route HOST',
      run: () => exec(CLI, ['route', 'bench.example:5000'], '', env, /routed by/),
    },
  ];

  // The same work without each trick: the client's entry module from the tree the bundle is made from, and the CLI
  // bundle loaded by bin/cli-loader.cjs without its code cache.
  const moduleTreeClient = join(scratch.path, 'module-tree-client.mjs');
  writeFileSync(
    moduleTreeClient,
    `import { main } from ${JSON.stringify(join(REPO_ROOT, 'dist', 'src', 'bin', 'credential-helper.js'))};\nawait main(process.argv.slice(2));\n`,
  );
  const uncachedCli = join(scratch.path, 'uncached-cli.cjs');
  writeFileSync(
    uncachedCli,
    `require(${JSON.stringify(join(REPO_ROOT, 'bin', 'cli-loader.cjs'))}).loadCli(false).exports.runCli(process.argv.slice(2));\n`,
  );
  const tricks: Subject[] = [
    {
      section: 'E',
      label: 'Node client get, bundled (as shipped)',
      run: () => exec(NODE_CLIENT, ['get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'E',
      label: 'Node client get, from the module tree',
      run: () => exec(process.execPath, [moduleTreeClient, 'get'], 'bench.example:5000', env, /bench-secret/),
    },
    {
      section: 'E',
      label: 'credrelay --help, with the code cache (as shipped)',
      run: () => exec(CLI, ['--help'], '', env, /COMMANDS/),
    },
    {
      section: 'E',
      label: 'credrelay --help, without the code cache',
      run: () => exec(process.execPath, [uncachedCli, '--help'], '', env, /COMMANDS/),
    },
    {
      section: 'E',
      label: 'credrelay route HOST, with the code cache (as shipped)',
      run: () => exec(CLI, ['route', 'bench.example:5000'], '', env, /routed by/),
    },
    {
      section: 'E',
      label: 'credrelay route HOST, without the code cache',
      run: () => exec(process.execPath, [uncachedCli, 'route', 'bench.example:5000'], '', env, /routed by/),
    },
  ];

  const results = new Map<Subject, Stats>();
  for (const [subjects, rounds] of [
    [warm, ROUNDS],
    [first, Math.max(5, Math.round(ROUNDS / 3))],
    [bursts, Math.max(3, Math.round(ROUNDS / 5))],
    [cliStart, Math.max(5, Math.round(ROUNDS / 2))],
    [tricks, Math.max(5, Math.round(ROUNDS / 2))],
  ] as const) {
    for (const [subject, values] of await measure([...subjects], rounds)) results.set(subject, statsOf(values));
  }

  const median = (subject: Subject) => results.get(subject)!.median;
  const ratio = (a: Subject, b: Subject) => (median(a) / median(b)).toFixed(2);
  // Each subject by its label: a position in a list shifts when a row is added, and a ratio would quietly compare
  // the wrong rows.
  const named = (subjects: readonly Subject[], label: string): Subject => {
    const subject = subjects.find((candidate) => candidate.label === label);
    if (subject === undefined) throw new Error(`no benchmark row "${label}"`);
    return subject;
  };
  const nodeFloor = named(warm, 'node, empty script');
  const nativeKeychain = named(warm, 'credrelay get, native client, warm daemon (keychain)');
  const nativeDynamic = named(warm, 'credrelay get, native client built dynamic (glibc), warm daemon (keychain)');
  const nativeEcr = named(warm, 'credrelay get, native client, warm daemon (ECR token cached)');
  const warmKeychain = named(warm, 'credrelay get, Node client, warm daemon (keychain)');
  const warmEcr = named(warm, 'credrelay get, Node client, warm daemon (ECR token cached)');
  const seaKeychain = named(warm, 'credrelay get, single executable, warm daemon (keychain)');
  const inProcessKeychain = named(warm, 'credrelay get, in-process (keychain)');
  const secretservice = named(warm, 'docker-credential-secretservice get (Go)');
  const ecrLogin = named(warm, 'docker-credential-ecr-login get, warm file cache (Go)');
  const firstDaemon = named(first, 'credrelay first get, new registry, warm daemon');
  const firstInProcess = named(first, 'credrelay first get, new registry, in-process');
  const burstNative = named(bursts, 'credrelay list + 20 gets, native client, warm daemon');
  const burstDaemon = named(bursts, 'credrelay list + 20 gets, Node client, warm daemon');
  const burstInProcess = named(bursts, 'credrelay list + 20 gets, in-process');
  const burstGo = named(bursts, 'docker-credential-secretservice list + 20 gets (Go)');
  const cliFloor = named(cliStart, 'node, empty script (CLI section)');
  const cliVersion = named(cliStart, 'credrelay --version');
  const seaVersion = named(cliStart, 'credrelay --version, single executable');
  const cliHelp = named(cliStart, 'credrelay --help');
  const cliRoute = named(cliStart, 'credrelay route HOST');
  const clientBundled = named(tricks, 'Node client get, bundled (as shipped)');
  const clientTree = named(tricks, 'Node client get, from the module tree');
  const helpCached = named(tricks, 'credrelay --help, with the code cache (as shipped)');
  const helpUncached = named(tricks, 'credrelay --help, without the code cache');
  const routeCached = named(tricks, 'credrelay route HOST, with the code cache (as shipped)');
  const routeUncached = named(tricks, 'credrelay route HOST, without the code cache');
  const headline = [
    `native warm get (keychain) / docker-credential-secretservice = ${ratio(nativeKeychain, secretservice)} (target <= 0.5)`,
    `native warm get (ECR token) / docker-credential-ecr-login on a warm cache = ${ratio(nativeEcr, ecrLogin)} (target <= 0.5)`,
    `burst of list + 20 gets: native / Go helper = ${ratio(burstNative, burstGo)} (target <= 0.5)`,
    `Node client warm get (keychain) / bare node = ${ratio(warmKeychain, nodeFloor)} (target <= 1.20)`,
    `Node client warm get (ECR token) / bare node = ${ratio(warmEcr, nodeFloor)}`,
    `native warm get / Node client warm get (keychain) = ${ratio(nativeKeychain, warmKeychain)}`,
    `native warm get, static as shipped / built dynamic against glibc (keychain) = ${ratio(nativeKeychain, nativeDynamic)} (target <= 1)`,
    `single executable warm get (keychain) / bare node = ${ratio(seaKeychain, nodeFloor)}`,
    `credrelay --version / bare node = ${ratio(cliVersion, cliFloor)} (target <= 1.5); the single executable's = ${ratio(seaVersion, cliFloor)}`,
    `credrelay --help / bare node = ${ratio(cliHelp, cliFloor)} (target <= 2)`,
    `credrelay route HOST / bare node = ${ratio(cliRoute, cliFloor)} (target <= 2)`,
    `get in-process / Node client through the warm daemon (keychain) = ${ratio(inProcessKeychain, warmKeychain)}`,
    `first get for a new registry: in-process / warm daemon = ${ratio(firstInProcess, firstDaemon)}`,
    `burst of list + 20 gets: in-process / Node client, warm daemon = ${ratio(burstInProcess, burstDaemon)}; Node client / Go helper = ${ratio(burstDaemon, burstGo)}`,
    `the client bundle: Node client get from the module tree / bundled = ${ratio(clientTree, clientBundled)}`,
    `the CLI's code cache: --help without / with = ${ratio(helpUncached, helpCached)}; route HOST without / with = ${ratio(routeUncached, routeCached)}`,
  ];

  const rows = [...results].map(
    ([subject, stats]) =>
      `| ${subject.section} | ${subject.label} | ${stats.median.toFixed(1)} | ${stats.p25.toFixed(1)} – ${stats.p75.toFixed(1)} | ${stats.p95.toFixed(1)} |`,
  );
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const report = `# credrelay benchmark report

Generated by \`npm run bench\` (bench/report.ts) on ${machine}; ${ROUNDS} interleaved rounds for A, fewer for B and C,
after ${WARMUP} warm-up rounds each. Times are wall-clock milliseconds per unit of work, median with the
interquartile range. The machine is shared and noisy: compare the ratios within one run, not absolute times across runs.

![chart](benchmark.svg)

| | measured | median ms | p25 – p75 | p95 |
|---|---|---|---|---|
${rows.join('\n')}

## Ratios

${headline.map((line) => `- ${line}`).join('\n')}

## Where the time goes

The native client (src/native/, built by \`npm run build\` where a C compiler is found and shipped prebuilt) is a small C program: it finds the
daemon's socket as the Node client does, sends the request, and prints the answer. Its warm \`get\` took
${median(nativeKeychain).toFixed(1)} ms for a keychain credential and ${median(nativeEcr).toFixed(1)} ms for a cached
ECR token, against ${median(secretservice).toFixed(1)} ms for Debian's docker-credential-secretservice (Go, the same
keyring) and ${median(ecrLogin).toFixed(1)} ms for docker-credential-ecr-login on its warm file cache. Every time here
includes starting the process from this benchmark (Node's spawn), the same for every row.

The Node client is the fallback: the native client hands it everything it does not answer from the daemon. Any
Node.js program first pays Node's own start-up, ${median(nodeFloor).toFixed(0)} ms here (row "node, empty script");
the Node client adds ${(median(warmKeychain) - median(nodeFloor)).toFixed(0)} ms to it for a keychain credential
(loading one bundled file, connecting to the daemon, the daemon's D-Bus lookup) and
${(median(warmEcr) - median(nodeFloor)).toFixed(0)} ms for a cached ECR token. In a burst, start-up is paid once per
helper call, 21 times.

The management CLI (D) is bundled with oclif into one file, and \`--version\` is answered before it loads.
\`credrelay route HOST\` also builds the configuration's router and asks the daemon and the keychain.

E measures each trick of the build against the same work without it, interleaved in one run: the Node client's
one bundled file took ${median(clientBundled).toFixed(1)} ms for a warm \`get\` against
${median(clientTree).toFixed(1)} ms for the module tree it is made from (Node's ES module loader, one file per
module); the CLI bundle with V8's code cache took ${median(helpCached).toFixed(1)} ms for \`--help\` and
${median(routeCached).toFixed(1)} ms for \`route HOST\`, against ${median(helpUncached).toFixed(1)} ms and
${median(routeUncached).toFixed(1)} ms compiling it afresh. docs/build.md keeps a trick only where this section
shows it pays.

What the daemon buys is shown by B and C within credrelay: a first request for a new registry costs
${median(firstDaemon).toFixed(0)} ms through the warm daemon (the SDK already loaded, credentials resolved, 150 ms
of it upstream latency) against ${median(firstInProcess).toFixed(0)} ms in a fresh process, and later requests for
that registry are answered from memory. The Go ECR helper is not in B: Debian's build does not honour
AWS_ENDPOINT_URL_ECR, so on this closed machine it cannot be pointed at moto; it caches tokens in a plaintext file
(~/.ecr/cache.json) to avoid repeating the exchange, where credrelay keeps them in the daemon's memory.
`;
  mkdirSync(join(REPO_ROOT, 'docs'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'docs', 'benchmark.md'), report);
  writeFileSync(join(REPO_ROOT, 'docs', 'benchmark.svg'), chart([...results]));
  console.log(report.split('\n').slice(5).join('\n'));
} finally {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop()]);
  scratch.remove();
}

/** A horizontal bar chart of the medians, with the interquartile range as a whisker, grouped by section. */
function chart(rows: Array<[Subject, Stats]>): string {
  const width = 900;
  const left = 360;
  const barHeight = 18;
  const gap = 8;
  // Each section has its own scale: a burst of 21 calls and a single call do not share an axis.
  const scaleMax = (section: Subject['section']) =>
    Math.max(...rows.filter(([subject]) => subject.section === section).map(([, stats]) => stats.p75)) * 1.05;
  let x = (ms: number) => ms;
  const colours = { A: '#4e79a7', B: '#f28e2b', C: '#59a14f', D: '#b07aa1', E: '#9c755f' } as const;
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  let y = 40;
  const parts: string[] = [];
  let section = '';
  for (const [subject, stats] of rows) {
    if (subject.section !== section) {
      section = subject.section;
      const max = scaleMax(subject.section);
      x = (ms: number) => left + ((width - left - 70) * ms) / max;
      const title = {
        A: 'A. warm get',
        B: 'B. first get, new registry (150 ms upstream)',
        C: 'C. list + 20 gets',
        D: 'D. management CLI start',
        E: 'E. each build trick, with and without',
      }[subject.section];
      parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${title}</text>`);
      y += barHeight + gap;
    }
    parts.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${escape(subject.label)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${x(stats.median) - left}" height="${barHeight}" fill="${colours[subject.section]}"/>`,
    );
    parts.push(
      `<line x1="${x(stats.p25)}" x2="${x(stats.p75)}" y1="${y + barHeight / 2}" y2="${y + barHeight / 2}" stroke="#333" stroke-width="2"/>`,
    );
    parts.push(
      `<text x="${x(Math.max(stats.median, stats.p75)) + 6}" y="${y + 13}">${stats.median.toFixed(0)} ms</text>`,
    );
    y += barHeight + gap;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 30}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">credrelay: median wall time per unit of work (line: interquartile range; one scale per section)</text>
${parts.join('\n')}
<text x="10" y="${y + 18}" fill="#666">${escape(`npm run bench, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}`)}</text>
</svg>
`;
}
