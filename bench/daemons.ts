/**
 * `npm run bench` (after report.ts), or `tsx bench/daemons.ts`: how many daemons one user's callers start, and their
 * memory together, with every answer compared byte for byte with the in-process one.
 *
 * A. a 30-step GitHub Actions job: the variables the runner sets afresh in every step, the job's own kept;
 * B. one shell running docker, buildah and podman (which run helpers with TMPDIR=/var/tmp) and CREDRELAY_NATIVE=0;
 * C. 50 distinct AWS profiles in use at once, each asking for an ECR token (moto on loopback): the daemons' resident
 *    memory summed from /proc.
 *
 * The bound counts every daemon of the user: run it with no other credrelay daemon of yours (`credrelay daemon stop
 * --all` first), as each case stops its own before the next.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAwsProxy } from '../test/support/aws-proxy.js';
import { writeCredrelayConfig } from '../test/support/config.js';
import { HELPER, pathWithCredrelay } from '../test/support/helper.js';
import { startKeyring } from '../test/support/keyring.js';
import { startMoto } from '../test/support/moto.js';

const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const STATIC_HOST = 'registry.bench.example:5000';
const PROFILES = 50;

interface Answer {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

function get(host: string, env: NodeJS.ProcessEnv): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const child = spawn(HELPER, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(host);
  });
}

/** The live daemons of a runtime directory, and their resident memory in MiB. */
function daemons(runtimeDir: string): { count: number; residentMiB: number } {
  let count = 0;
  let kib = 0;
  for (const name of readdirSync(runtimeDir)) {
    if (!/^daemon-[0-9a-f]{16}\.pid$/.test(name)) continue;
    const pid = Number.parseInt(readFileSync(join(runtimeDir, name), 'utf8'), 10);
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      kib += Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
      count += 1;
    } catch {
      // Not running.
    }
  }
  return { count, residentMiB: Math.round(kib / 1024) };
}

/**
 * Stops the daemons of a runtime directory once its case is measured: the bound counts every daemon of the user,
 * whatever directory it uses, so a case must not leave its daemons to the next.
 */
async function stopDaemons(runtimeDir: string): Promise<void> {
  const pids: number[] = [];
  for (const name of readdirSync(runtimeDir)) {
    if (!/^daemon-[0-9a-f]{16}\.pid$/.test(name)) continue;
    const pid = Number.parseInt(readFileSync(join(runtimeDir, name), 'utf8'), 10);
    try {
      process.kill(pid, 'SIGTERM');
      pids.push(pid);
    } catch {
      // Gone already.
    }
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let waited = 0; pids.some(alive) && waited < 5000; waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Asks through the daemon and in-process alike; counts answers that differ. */
async function compare(host: string, env: NodeJS.ProcessEnv): Promise<number> {
  const [through, inProcess] = await Promise.all([get(host, env), get(host, { ...env, CREDRELAY_NO_DAEMON: '1' })]);
  if (through.code !== 0) throw new Error(`get ${host} failed: ${through.stdout}${through.stderr}`);
  return through.stdout === inProcess.stdout && through.code === inProcess.code ? 0 : 1;
}

const [session, moto] = await Promise.all([startKeyring(), startMoto()]);
const proxy = await startAwsProxy(moto.endpoint);
proxy.behaviour.expiresInSeconds = 12 * 3600;
const rows: Array<[string, string, string, string]> = [];
try {
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: { [STATIC_HOST]: { provider: 'static', username: 'ci', password: '$REG_TOKEN' } },
  });
  const awsDir = join(session.home, '.aws');
  mkdirSync(awsDir, { recursive: true });
  const profiles = Array.from({ length: PROFILES }, (_, index) => `profile-${index}`);
  writeFileSync(
    join(awsDir, 'credentials'),
    profiles
      .map(
        (name, index) =>
          `[${name}]\naws_access_key_id = AKIDBENCH${String(index).padStart(11, '0')}\naws_secret_access_key = s-${index}\n`,
      )
      .join(''),
  );
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    ...session.env,
    PATH: pathWithCredrelay(),
    REG_TOKEN: 'bench-token',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  delete base.AWS_ACCESS_KEY_ID;
  delete base.AWS_SECRET_ACCESS_KEY;
  delete base.AWS_PROFILE;
  const runtime = (name: string) => join(session.root, `bench-rt-${name}`);

  // A. 30 steps of one job.
  {
    const runtimeDir = runtime('actions');
    let differing = 0;
    for (let step = 0; step < 30; step += 1) {
      differing += await compare(STATIC_HOST, {
        ...base,
        CREDRELAY_RUNTIME_DIR: runtimeDir,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_REPOSITORY: 'credrelay/example',
        GITHUB_RUN_ID: '9123456789',
        GITHUB_ACTION: `__run_${step}`,
        GITHUB_ACTION_PATH: `/home/runner/work/_actions/step-${step}`,
        GITHUB_OUTPUT: `/home/runner/work/_temp/_runner_file_commands/set_output_${step}`,
        GITHUB_STATE: `/home/runner/work/_temp/_runner_file_commands/save_state_${step}`,
        GITHUB_ENV: `/home/runner/work/_temp/_runner_file_commands/set_env_${step}`,
        GITHUB_PATH: `/home/runner/work/_temp/_runner_file_commands/add_path_${step}`,
        GITHUB_STEP_SUMMARY: `/home/runner/work/_temp/_runner_file_commands/step_summary_${step}`,
      });
    }
    const { count, residentMiB } = daemons(runtimeDir);
    rows.push(['A. 30-step GitHub Actions job', String(count), `${residentMiB} MiB`, `${differing} of 30`]);
    await stopDaemons(runtimeDir);
  }

  // B. docker, buildah, podman and the Node client in one shell.
  {
    const runtimeDir = runtime('engines');
    let differing = 0;
    // As seen here: buildah and podman add TMPDIR=/var/tmp to the shell's environment, and the shell sets `_`.
    const callers = [
      { _: '/usr/bin/docker' },
      { _: '/usr/bin/buildah', TMPDIR: '/var/tmp' },
      { _: '/usr/bin/podman', TMPDIR: '/var/tmp' },
      { _: '/usr/bin/docker', CREDRELAY_NATIVE: '0' },
    ];
    for (const caller of callers)
      differing += await compare(STATIC_HOST, { ...base, CREDRELAY_RUNTIME_DIR: runtimeDir, ...caller });
    const { count, residentMiB } = daemons(runtimeDir);
    rows.push([
      'B. docker + buildah + podman in one shell',
      String(count),
      `${residentMiB} MiB`,
      `${differing} of ${callers.length}`,
    ]);
    await stopDaemons(runtimeDir);
  }

  // C. 50 AWS profiles at once.
  {
    const runtimeDir = runtime('profiles');
    // Ten at a time (moto serves one request at a time and drops a crowd), all 50 within seconds: none of their
    // daemons has been idle for the minute after which one may be stopped for another.
    let differing = 0;
    for (let round = 0; round < 2; round += 1) {
      for (let first = 0; first < PROFILES; first += 10) {
        const batch = profiles.slice(first, first + 10);
        const results = await Promise.all(
          batch.map((profile) =>
            compare(ECR_HOST, { ...base, CREDRELAY_RUNTIME_DIR: runtimeDir, AWS_PROFILE: profile }),
          ),
        );
        differing += results.reduce((sum, value) => sum + value, 0);
      }
    }
    // A daemon that found no slot exits within moments of its client giving up on it: count what stays.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const { count, residentMiB } = daemons(runtimeDir);
    rows.push([
      `C. ${PROFILES} AWS profiles at once (ECR)`,
      String(count),
      `${residentMiB} MiB`,
      `${differing} of ${2 * PROFILES}`,
    ]);
    await stopDaemons(runtimeDir);
  }
} finally {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop()]);
}

const header: [string, string, string, string] = [
  'case',
  'daemons',
  'resident, all daemons',
  'answers unlike in-process',
];
const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)));
for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
