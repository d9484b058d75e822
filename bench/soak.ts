/**
 * `npm run soak [-- --requests 20000 --minutes 4]`: a long run through one daemon, outside the test suite. Ten ECR
 * registries on moto hand out 40-second tokens, so the daemon is refreshing tokens all the time. It reports errors,
 * upstream calls, and the daemon's memory (at the start, after warm-up, half-way and at the end) and open handles
 * sampled over the run. The bar: at most 100 MiB at the end, and no growth over the second half (within 2 MiB, the
 * noise of a garbage-collected heap).
 */
import { startAwsProxy } from '../test/support/aws-proxy.js';
import { daemonPid } from '../test/support/daemon.js';
import { openHandles, rssMiB, socketGet } from '../test/support/daemon-load.js';
import { daemonSocketFor, runHelper } from '../test/support/helper.js';
import { startKeyring } from '../test/support/keyring.js';
import { startMoto } from '../test/support/moto.js';

const option = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
};
const requests = option('requests', 20_000);
const minutes = option('minutes', 4);
const CONCURRENCY = 20;

const [moto, session] = await Promise.all([startMoto(), startKeyring()]);
const proxy = await startAwsProxy(moto.endpoint);
Object.assign(proxy.behaviour, { expiresInSeconds: 40, uniqueTokens: true, delayMs: 50 });
const env = {
  ...session.env,
  AWS_ACCESS_KEY_ID: 'AKIDSOAK000000000001',
  AWS_SECRET_ACCESS_KEY: 'x',
  AWS_ENDPOINT_URL_ECR: proxy.endpoint,
  AWS_EC2_METADATA_DISABLED: 'true',
};
try {
  await runHelper('list', '', env);
  const pid = daemonPid(session.runtimeDir)!;
  const socketPath = daemonSocketFor(env);
  const hosts = Array.from({ length: 10 }, (_, i) => `${200000000000 + i}.dkr.ecr.eu-west-1.amazonaws.com`);
  const samples: Array<{ done: number; seconds: number; rss: number; handles: number }> = [];
  const started = Date.now();
  const pauseMs = (minutes * 60_000) / (requests / CONCURRENCY);
  let done = 0;
  let errors = 0;
  for (let batch = 0; done < requests; batch += 1) {
    const size = Math.min(CONCURRENCY, requests - done);
    const results = await Promise.allSettled(
      Array.from({ length: size }, (_, i) => socketGet(socketPath, hosts[(done + i) % hosts.length]!)),
    );
    errors += results.filter((result) => result.status === 'rejected').length;
    done += size;
    if (batch % 50 === 0)
      samples.push({ done, seconds: (Date.now() - started) / 1000, rss: rssMiB(pid), handles: openHandles(pid) });
    const due = started + (batch + 1) * pauseMs;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
  }
  samples.push({ done, seconds: (Date.now() - started) / 1000, rss: rssMiB(pid), handles: openHandles(pid) });
  const steady = samples.slice(Math.floor(samples.length / 4));
  const halfway = samples[Math.floor(samples.length / 2)]!;
  const last = samples.at(-1)!;
  const secondHalfGrowth = last.rss - halfway.rss;
  console.log(
    `soak: ${done} requests in ${((Date.now() - started) / 1000).toFixed(0)} s, ${errors} errors, ${proxy.tokenCalls().length} token exchanges (40 s tokens, 10 registries)`,
  );
  console.log(
    `daemon RSS MiB: start ${samples[0]!.rss.toFixed(1)}, after warm-up ${steady[0]!.rss.toFixed(1)}, half-way ${halfway.rss.toFixed(1)}, end ${last.rss.toFixed(1)}, max ${Math.max(...samples.map((s) => s.rss)).toFixed(1)}; second half ${secondHalfGrowth >= 0 ? '+' : ''}${secondHalfGrowth.toFixed(1)} MiB`,
  );
  const withinBar = last.rss <= 100 && secondHalfGrowth <= 2;
  console.log(`memory bar (end <= 100 MiB, second half within +2 MiB): ${withinBar ? 'met' : 'NOT met'}`);
  console.log(
    `daemon open handles: first ${samples[0]!.handles}, last ${samples.at(-1)!.handles}, max ${Math.max(...samples.map((s) => s.handles))}`,
  );
  console.log(`same daemon throughout: ${daemonPid(session.runtimeDir) === pid}`);
  if (errors > 0 || !withinBar) process.exitCode = 1;
} finally {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop()]);
}
