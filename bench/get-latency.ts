/**
 * `npm run bench`: how long one `get` takes, measured side by side in one run (this machine is noisy, so the
 * commands are interleaved round by round in a shuffled order, and ratios are reported next to the times):
 *   (a) node running an empty script: the floor for any Node.js program;
 *   (b) docker-credential-credrelay get, answered by a warm daemon;
 *   (c) docker-credential-credrelay get, in-process (CREDRELAY_NO_DAEMON=1);
 *   (d) Debian's docker-credential-secretservice get, on the same keyring.
 * Every command reads a credential that exists, from a real gnome-keyring on a private D-Bus bus.
 * Usage: npm run bench [-- --rounds N]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELPER, pathWithCredrelay } from '../test/support/helper.js';
import { startKeyring } from '../test/support/keyring.js';
import { makeTempDir } from '../test/support/temp.js';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 60;
const WARMUP_ROUNDS = 3;
const HOST = 'bench.example:5000';

interface Subject {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly input: string;
  readonly env: NodeJS.ProcessEnv;
  readonly expect: RegExp;
}

const session = await startKeyring();
const scratch = makeTempDir('bench');
try {
  const env = { ...process.env, ...session.env, PATH: pathWithCredrelay() };
  const empty = join(scratch.path, 'empty.js');
  writeFileSync(empty, '');
  const document = JSON.stringify({ ServerURL: HOST, Username: 'bench', Secret: 'bench-secret' });
  for (const helper of [HELPER, 'docker-credential-secretservice']) {
    const stored = spawnSync(helper, ['store'], { input: document, env });
    if (stored.status !== 0) throw new Error(`${helper} store failed: ${stored.stdout}`);
  }

  const subjects: Subject[] = [
    { label: '(a) node, empty script', command: process.execPath, args: [empty], input: '', env, expect: /^$/ },
    {
      label: '(b) credrelay get, warm daemon',
      command: HELPER,
      args: ['get'],
      input: HOST,
      env,
      expect: /bench-secret/,
    },
    {
      label: '(c) credrelay get, in-process',
      command: HELPER,
      args: ['get'],
      input: HOST,
      env: { ...env, CREDRELAY_NO_DAEMON: '1' },
      expect: /bench-secret/,
    },
    {
      label: '(d) docker-credential-secretservice get',
      command: 'docker-credential-secretservice',
      args: ['get'],
      input: HOST,
      env,
      expect: /bench-secret/,
    },
  ];
  const samples = new Map<Subject, number[]>(subjects.map((subject) => [subject, []]));

  const time = (subject: Subject): number => {
    const started = process.hrtime.bigint();
    const result = spawnSync(subject.command, subject.args, {
      input: subject.input,
      env: subject.env,
      encoding: 'utf8',
    });
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0 || !subject.expect.test(result.stdout)) {
      throw new Error(`${subject.label} failed: ${result.stdout}${result.stderr}`);
    }
    return elapsed;
  };

  for (let round = 0; round < WARMUP_ROUNDS + rounds; round += 1) {
    const order = [...subjects].sort(() => Math.random() - 0.5);
    for (const subject of order) {
      const ms = time(subject);
      if (round >= WARMUP_ROUNDS) samples.get(subject)!.push(ms);
    }
  }

  const quantile = (values: number[], q: number): number => {
    const sorted = [...values].sort((x, y) => x - y);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  };
  const median = (subject: Subject) => quantile(samples.get(subject)!, 0.5);
  const [nodeFloor, warm, inProcess, reference] = subjects as [Subject, Subject, Subject, Subject];

  console.log(`get latency, ${rounds} interleaved rounds (after ${WARMUP_ROUNDS} warm-up), node ${process.version}`);
  console.log('');
  console.log(`${'command'.padEnd(42)}${'median'.padStart(10)}${'p95'.padStart(10)}${'÷ (a)'.padStart(9)}`);
  for (const subject of subjects) {
    const values = samples.get(subject)!;
    console.log(
      `${subject.label.padEnd(42)}${`${median(subject).toFixed(1)} ms`.padStart(10)}${`${quantile(values, 0.95).toFixed(1)} ms`.padStart(10)}${(median(subject) / median(nodeFloor)).toFixed(2).padStart(8)}x`,
    );
  }
  console.log('');
  console.log(
    `warm daemon vs bare node      (b)/(a) = ${(median(warm) / median(nodeFloor)).toFixed(2)}  (target <= 1.10)`,
  );
  console.log(`in-process vs warm daemon     (c)/(b) = ${(median(inProcess) / median(warm)).toFixed(2)}`);
  console.log(`warm daemon vs Go helper      (b)/(d) = ${(median(warm) / median(reference)).toFixed(2)}`);
} finally {
  await session.stop();
  scratch.remove();
}
