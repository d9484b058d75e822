import { execFileSync } from 'node:child_process';
import { startKeyring } from '../test/support/keyring.js';
const session = await startKeyring();
try {
  const env = { ...process.env, ...session.env, PATH: `/work/main/bin:${process.env.PATH}` };
  execFileSync('/work/main/bin/docker-credential-credrelay-node', ['list'], { env });
  const out = execFileSync('hyperfine', ['-N', '--warmup', '3', '--runs', '20', 'node /work/main/bin/credrelay --help', 'node /work/main/bin/credrelay route reg.example', 'node -e 0'], { env, encoding: 'utf8' });
  console.log(out.split('\n').filter((l) => /Time|Benchmark/.test(l)).join('\n'));
} finally { await session.stop(); }
