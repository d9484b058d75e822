import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp.js';

/** A user's home for Docker and skopeo: a fresh HOME, DOCKER_CONFIG and XDG_RUNTIME_DIR. */
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
  const runtime = join(dir.path, 'run');
  mkdirSync(dockerConfigDir, { recursive: true });
  mkdirSync(runtime, { recursive: true });
  chmodSync(runtime, 0o700);
  return {
    home,
    dockerConfigDir,
    env: { HOME: home, DOCKER_CONFIG: dockerConfigDir, XDG_RUNTIME_DIR: runtime },
    writeDockerConfig: (config) => writeFileSync(join(dockerConfigDir, 'config.json'), JSON.stringify(config, null, 2)),
    writeAuthFile(name, config) {
      const path = join(home, name);
      writeFileSync(path, JSON.stringify(config, null, 2));
      return path;
    },
    remove: () => dir.remove(),
  };
}
