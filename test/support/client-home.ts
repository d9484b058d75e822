import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeTempDir } from './temp.js';

/** A user's home for Docker and skopeo: a fresh HOME and DOCKER_CONFIG (the session's XDG directories stay). */
export interface ClientHome {
  readonly home: string;
  readonly dockerConfigDir: string;
  readonly env: Record<string, string>;
  writeDockerConfig(config: unknown): void;
  /** A containers-auth.json / config.json file for skopeo's --authfile. */
  writeAuthFile(name: string, config: unknown): string;
  remove(): void;
}

export function makeClientHome(): ClientHome {
  const dir = makeTempDir('client');
  const home = join(dir.path, 'home');
  const dockerConfigDir = join(home, '.docker');
  mkdirSync(dockerConfigDir, { recursive: true });
  return {
    home,
    dockerConfigDir,
    env: { HOME: home, DOCKER_CONFIG: dockerConfigDir },
    writeDockerConfig: (config) => writeFileSync(join(dockerConfigDir, 'config.json'), JSON.stringify(config, null, 2)),
    writeAuthFile(name, config) {
      const path = join(home, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, JSON.stringify(config, null, 2));
      return path;
    },
    remove: () => dir.remove(),
  };
}
