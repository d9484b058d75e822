import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult, run } from './helper.js';
import { makeTempDir } from './temp.js';
import { waitFor } from './wait.js';

/** Whether the image engines are installed (scripts/install-test-deps.sh installs them). */
export const enginesInstalled = (): boolean =>
  ['/usr/sbin/dockerd', '/usr/bin/buildah', '/usr/bin/podman'].every((path) => existsSync(path));

/** A real dockerd (Debian's docker.io): vfs storage, no networking of its own, every file in a private directory. */
export interface Dockerd {
  /** `unix://…/docker.sock`, for DOCKER_HOST. */
  readonly host: string;
  stop(): Promise<void>;
}

/**
 * Starts dockerd in a private mount namespace, so that it writes nothing under the machine's /etc/docker or /run:
 * both are bind-mounted from its own directory. A registry on 127.0.0.1 is insecure for it by default (loopback).
 */
export async function startDockerd(): Promise<Dockerd> {
  const dir = makeTempDir('dockerd');
  for (const sub of ['etc', 'run', 'data', 'exec']) mkdirSync(join(dir.path, sub), { recursive: true });
  const socket = join(dir.path, 'docker.sock');
  const script = [
    `mount --bind ${dir.path}/etc /etc/docker`,
    `mount --bind ${dir.path}/run /run`,
    `exec dockerd --storage-driver vfs --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false --data-root ${dir.path}/data --exec-root ${dir.path}/exec -H unix://${socket} --pidfile ${dir.path}/docker.pid`,
  ].join(' && ');
  mkdirSync('/etc/docker', { recursive: true }); // the mount point
  const daemon: ChildProcess = spawn('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  daemon.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const host = `unix://${socket}`;
  try {
    await waitFor(
      'dockerd to answer',
      async () =>
        (await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: host } })).code ===
        0,
      30_000,
    );
  } catch (error) {
    daemon.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; dockerd said: ${log}`, { cause: error });
  }
  return {
    host,
    async stop() {
      const pidFile = join(dir.path, 'docker.pid');
      const pid = existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8'), 10) : undefined;
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
      await new Promise<void>((resolve) => {
        if (daemon.exitCode !== null) return resolve();
        const timer = setTimeout(() => daemon.kill('SIGKILL'), 15_000);
        daemon.on('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      // dockerd's vfs layers are root-owned copies; containerd may keep a shim a moment longer.
      await run('rm', ['-rf', dir.path], {});
    },
  };
}

/**
 * Runs buildah or podman with vfs storage under a private root, in a mount namespace whose /var/lib/containers is
 * a private directory (they keep a cache file there even with --root), with chroot isolation: no daemon, no
 * cgroups, no network namespace of their own.
 */
export function containerEngine(engine: 'buildah' | 'podman') {
  const dir = makeTempDir(engine);
  for (const sub of ['root', 'var-lib']) mkdirSync(join(dir.path, sub), { recursive: true });
  // podman refuses a runroot longer than 50 characters, which a test TMPDIR easily is.
  const runroot = mkdtempSync('/tmp/crr-');
  const global =
    engine === 'buildah'
      ? ['--root', join(dir.path, 'root'), '--runroot', runroot, '--storage-driver', 'vfs']
      : [
          '--root',
          join(dir.path, 'root'),
          '--runroot',
          runroot,
          '--storage-driver',
          'vfs',
          '--cgroup-manager',
          'cgroupfs',
          '--events-backend',
          'file',
        ];
  return {
    /** `engine build` of `context` (a Dockerfile in it), pulling its base through `authfile`'s credHelpers. */
    build(context: string, tag: string, authfile: string, env: Record<string, string | undefined>): Promise<RunResult> {
      const args = [
        ...global,
        'build',
        '--isolation',
        'chroot',
        '--tls-verify=false',
        '--pull=always',
        '--authfile',
        authfile,
        '-t',
        tag,
        context,
      ];
      const command = `mkdir -p /var/lib/containers && mount --bind ${join(dir.path, 'var-lib')} /var/lib/containers && exec ${engine} "$@"`;
      return run('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', command, engine, ...args], {
        env,
        timeoutMs: 120_000,
      });
    },
    remove: () => run('rm', ['-rf', dir.path, runroot], {}).then(() => undefined),
  };
}
