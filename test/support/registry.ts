import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { makeTempDir } from './temp.js';
import { waitFor } from './wait.js';

/** A real Docker registry (distribution) on 127.0.0.1 with htpasswd authentication. */
export interface Registry {
  /** `127.0.0.1:PORT`, as Docker and skopeo spell it. */
  readonly host: string;
  readonly username: string;
  readonly password: string;
  stop(): Promise<void>;
}

export async function startRegistry(username = 'relay-user', password = 'relay-pass-0451'): Promise<Registry> {
  const dir = makeTempDir('registry');
  const port = await freePort();
  // htpasswd reads the password from stdin (-i), so it is never a process argument.
  const entry = execFileSync('htpasswd', ['-iBn', username], { input: password, encoding: 'utf8' });
  writeFileSync(join(dir.path, 'htpasswd'), entry);
  writeFileSync(
    join(dir.path, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: error}',
      `storage: {filesystem: {rootdirectory: ${join(dir.path, 'data')}}}`,
      `http: {addr: "127.0.0.1:${port}"}`,
      `auth: {htpasswd: {realm: credrelay-test, path: ${join(dir.path, 'htpasswd')}}}`,
      '',
    ].join('\n'),
  );
  const server: ChildProcess = spawn('docker-registry', ['serve', join(dir.path, 'config.yml')], { stdio: 'ignore' });
  await waitFor('the registry to answer', async () => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      return response.status === 401;
    } catch {
      return false;
    }
  });
  return {
    host: `127.0.0.1:${port}`,
    username,
    password,
    async stop() {
      server.kill('SIGTERM');
      dir.remove();
    },
  };
}
