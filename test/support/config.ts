import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run } from './helper.js';

/** Writes credrelay's configuration where a session's helpers read it (private, as a user's would be). */
export function writeCredrelayConfig(xdgConfigHome: string, document: unknown): string {
  const dir = join(xdgConfigHome, 'credrelay');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(document), { mode: 0o600 });
  return path;
}

/**
 * Runs `credrelay configure-docker --registries REGISTRY` against a fresh Docker config directory and returns the
 * `credHelpers` it wrote, with the command's exit code.
 */
export async function configureDockerFor(
  registry: string,
  dockerConfig: string,
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; credHelpers: unknown }> {
  const configured = await run(CLI, ['configure-docker', '--registries', registry], {
    env: { ...env, DOCKER_CONFIG: dockerConfig },
  });
  const written = configured.code === 0 ? readFileSync(join(dockerConfig, 'config.json'), 'utf8') : '{}';
  return { code: configured.code, credHelpers: (JSON.parse(written) as { credHelpers?: unknown }).credHelpers };
}
