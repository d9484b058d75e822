import { describe, expect, it } from 'vitest';
import { takeInheritedSocket } from '../../src/daemon/socket-activation.js';

describe('takeInheritedSocket (sd_listen_fds)', () => {
  it('takes descriptor 3 when LISTEN_PID names this process, and removes the variables for what it runs', () => {
    const env: NodeJS.ProcessEnv = {
      LISTEN_PID: String(process.pid),
      LISTEN_FDS: '1',
      LISTEN_FDNAMES: 'credrelay',
      KEEP: 'x',
    };
    expect(takeInheritedSocket(env)).toEqual({ fd: 3 });
    expect(env).toEqual({ KEEP: 'x' });
  });

  it('ignores variables meant for another process (a parent that did not clear them), and their absence', () => {
    expect(takeInheritedSocket({ LISTEN_PID: String(process.pid + 1), LISTEN_FDS: '1' })).toBeUndefined();
    expect(takeInheritedSocket({})).toBeUndefined();
  });

  it('refuses more than one socket, saying how to fix the unit', () => {
    expect(() => takeInheritedSocket({ LISTEN_PID: String(process.pid), LISTEN_FDS: '2' })).toThrow(
      /handed over 2 sockets \(LISTEN_FDS\), and credrelay listens on one: give the \.socket unit a single ListenStream=/,
    );
  });
});
