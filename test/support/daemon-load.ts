import { readFileSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { VERSION } from './helper.js';

/** One `get` sent straight to the daemon's socket; resolves with the secret, rejects on any failure. */
export function socketGet(socketPath: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let data = '';
    socket.on('connect', () =>
      socket.write(
        `${JSON.stringify({ v: VERSION, op: 'protocol', action: 'get', input: Buffer.from(host).toString('base64') })}\n`,
      ),
    );
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        const reply = JSON.parse(data.trim().split('\n').at(-1)!) as {
          ok: boolean;
          result?: { exitCode: number; stdout: string };
        };
        if (!reply.ok || reply.result?.exitCode !== 0) return reject(new Error(`failed: ${data.slice(0, 200)}`));
        resolve((JSON.parse(reply.result.stdout) as { Secret: string }).Secret);
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Resident memory of a process, in MiB. */
export const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Open file descriptors (sockets, files) of a process. */
export const openHandles = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
