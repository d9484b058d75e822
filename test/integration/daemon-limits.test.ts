import { readFileSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../support/daemon.js';
import { CLI, daemonPidFor, daemonSocketFor, run, runHelper, VERSION } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { waitFor } from '../support/wait.js';
import { packageVersion } from '../../src/core/version.js';
import { writeCredrelayConfig } from '../support/config.js';

/** What one local user's clients can make the daemon hold: bounded connections, deadlines, and buffered bytes. */
let session: Keyring;
beforeAll(async () => {
  session = await startKeyring();
});
afterAll(async () => {
  await session.stop();
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function connect(path: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    let text = '';
    const closed = new Promise<string>((done) => {
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => done(text));
      socket.on('error', () => undefined);
    });
    socket.on('connect', () => resolve({ socket, closed }));
    socket.on('error', () => resolve({ socket, closed }));
  });
}

describe('connection limits', () => {
  it('2,000 idle connections: at most 1,024 open, the oldest closed to make room, the rest at the read deadline', async () => {
    expect((await runHelper('list', '', session.env)).code).toBe(0);
    const pid = daemonPidFor(session.env)!;
    const before = rssMiB(pid);
    const connections = await Promise.all(Array.from({ length: 2000 }, () => connect(daemonSocketFor(session.env))));
    const openNow = () => connections.filter(({ socket }) => !socket.destroyed && socket.readyState === 'open').length;
    // The daemon closes what is past its bound as it accepts: wait for that, not for a fixed time.
    await waitFor('the connections past the bound to be closed', () => openNow() <= 1024, 10_000);
    const open = openNow();
    expect(open).toBeLessThanOrEqual(1024);
    expect(open).toBeGreaterThan(0);
    expect(rssMiB(pid) - before).toBeLessThan(60);
    // A real request still gets through once the idle ones are gone (the read deadline is 5 s).
    await Promise.all(connections.map(({ closed }) => closed));
    expect((await runHelper('list', '', session.env)).stdout).toBe('{}\n');
    expect(isAlive(pid)).toBe(true);
  }, 30_000);

  it('a flood of 2,000 connections holding 256 KiB each: a real request is answered by the daemon, every one closed', async () => {
    expect((await runHelper('list', '', session.env)).code).toBe(0);
    const pid = daemonPidFor(session.env)!;
    const started = Date.now();
    const chunk = Buffer.alloc(256 * 1024, 'a'); // an unfinished request: no newline
    const flood = await Promise.all(
      Array.from({ length: 2000 }, async () => {
        const connection = await connect(daemonSocketFor(session.env));
        if (!connection.socket.destroyed) connection.socket.write(chunk);
        return connection;
      }),
    );
    // During the flood: through the daemon (no in-process notice), as any other time.
    const during = await runHelper('list', '', session.env);
    expect(during).toMatchObject({ code: 0, stdout: '{}\n', stderr: '' });
    // Every flood connection is closed: the oldest to make room, the rest at the 5 s read deadline; none waits on.
    await Promise.all(flood.map(({ closed }) => closed));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(isAlive(pid)).toBe(true);
    expect((await runHelper('list', '', session.env)).stderr).toBe('');
  }, 40_000);

  it('incomplete requests past 16 MiB in all are refused', async () => {
    await runHelper('list', '', session.env); // a running daemon, whatever ran before
    const chunk = Buffer.alloc(1900 * 1024, 'a'); // under the 2 MiB line limit each
    const connections = await Promise.all(Array.from({ length: 12 }, () => connect(daemonSocketFor(session.env))));
    for (const { socket } of connections) socket.write(chunk);
    const replies = await Promise.all(connections.map(({ closed }) => closed));
    expect(replies.filter((reply) => reply.includes('"code":"BUSY"')).length).toBeGreaterThan(0);
    expect((await runHelper('list', '', session.env)).code).toBe(0);
  }, 30_000);

  it('one request per connection: lines after the first are not run, however many', async () => {
    await runHelper('list', '', session.env); // a running daemon, whatever ran before
    const store = (host: string) =>
      `${JSON.stringify({ v: packageVersion(), op: 'protocol', action: 'store', input: Buffer.from(JSON.stringify({ ServerURL: host, Username: 'u', Secret: 's' })).toString('base64') })}\n`;
    const { socket, closed } = await connect(daemonSocketFor(session.env));
    socket.write(store('first.example') + store('second.example') + store('third.example'));
    const replies = (await closed).trim().split('\n');
    expect(replies).toHaveLength(2); // the ack and one reply
    const listed = JSON.parse((await runHelper('list', '', session.env)).stdout) as Record<string, string>;
    expect(Object.keys(listed)).toContain('first.example');
    expect(Object.keys(listed)).not.toContain('second.example');
    expect(Object.keys(listed)).not.toContain('third.example');

    const get = `${JSON.stringify({ v: packageVersion(), op: 'protocol', action: 'get', input: Buffer.from('first.example').toString('base64') })}\n`;
    const flood = await connect(daemonSocketFor(session.env));
    flood.socket.write(get.repeat(20_000));
    expect((await flood.closed).trim().split('\n')).toHaveLength(2);
    await runHelper('erase', 'first.example', session.env);
  });

  it('a connection that trickles bytes is closed at the read deadline, not kept by its activity', async () => {
    await runHelper('list', '', session.env);
    const { socket, closed } = await connect(daemonSocketFor(session.env));
    let ended = false;
    void closed.then(() => (ended = true));
    const trickle = setInterval(() => socket.write('{'), 500);
    try {
      await waitFor('the read deadline to close the connection', () => ended, 9000);
    } finally {
      clearInterval(trickle);
    }
  }, 15_000);

  it('idle exit closes open connections: an open connection does not keep the daemon alive', async () => {
    await stopCredrelayDaemon(session.runtimeDir);
    writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, { daemon: { idleTimeoutSeconds: 1 } });
    try {
      expect((await runHelper('list', '', session.env)).code).toBe(0);
      const pid = daemonPidFor(session.env)!;
      const { socket, closed } = await connect(daemonSocketFor(session.env));
      socket.write(`{"v":"${VERSION}",`); // a request that never completes
      await waitFor('the idle daemon to exit', () => !isAlive(pid), 4000);
      await closed;
      const status = await run(CLI, ['daemon', 'status'], { env: session.env });
      expect(status.stderr).toMatch(/^no daemon is running/);
    } finally {
      writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {});
    }
  }, 30_000);
});
