import { lstatSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CredrelayError } from '../../core/errors.js';
import { replaceFileAtomically } from '../../core/util/atomic-file.js';
import { HELPER_NAME } from './docker-config.js';

/** The first line of the drop-in credrelay writes: how it knows the file for its own, to update or remove. */
const MARKER =
  '# Written by `credrelay configure-docker --containers`; `credrelay configure-docker --undo` removes it.';

/** The drop-in's whole text: every registry's login, logout and lookup through docker-credential-credrelay. */
export const CONTAINERS_DROP_IN = `${MARKER}
# podman, buildah and skopeo (containers-registries.conf(5)) store, erase and look up credentials through the
# credential helpers listed here, in order, instead of their own auth file.
credential-helpers = ["${HELPER_NAME}"]
`;

/**
 * Where podman, buildah and skopeo read a drop-in (containers-registries.conf(5)): for root the system directory,
 * /etc/containers/registries.conf.d; for other users $HOME/.config/containers/registries.conf.d. A drop-in's
 * `credential-helpers` replaces the list of the files read before it (the default is ["containers-auth.json"]).
 */
export function containersDropInPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir =
    process.getuid?.() === 0
      ? '/etc/containers/registries.conf.d'
      : join(env.HOME || homedir(), '.config', 'containers', 'registries.conf.d');
  return join(dir, '50-credrelay.conf');
}

/** What the drop-in at `path` is: absent, credrelay's own, or someone else's file of that name. */
export function containersDropInState(path: string): 'absent' | 'ours' | 'foreign' {
  let text: string;
  try {
    if (!lstatSync(path).isFile()) return 'foreign';
    text = readFileSync(path, 'utf8');
  } catch {
    return 'absent';
  }
  return text.startsWith(MARKER) ? (text === CONTAINERS_DROP_IN ? 'ours' : 'foreign') : 'foreign';
}

/** Writes the drop-in; returns whether anything changed. A file of that name that is not credrelay's is kept. */
export function writeContainersDropIn(path: string): boolean {
  const state = containersDropInState(path);
  if (state === 'ours') return false;
  if (state === 'foreign') {
    throw new CredrelayError(
      'INVALID_INPUT',
      `${path} exists and is not credrelay's: add credential-helpers = ["${HELPER_NAME}"] to it yourself, or move it away`,
    );
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  replaceFileAtomically(path, CONTAINERS_DROP_IN, 0o644);
  return true;
}

/** Removes credrelay's drop-in; returns whether there was one. Someone else's file is left alone. */
export function removeContainersDropIn(path: string): boolean {
  if (containersDropInState(path) !== 'ours') return false;
  rmSync(path, { force: true });
  return true;
}
