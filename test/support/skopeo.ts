import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult, run } from './helper.js';
import { writeOciImage } from './oci-image.js';

/**
 * Pushes a freshly made one-layer image to `registryHost` with skopeo, whose authfile sends that registry to
 * credrelay (skopeo reads credHelpers only), then inspects it. Both answers are returned for the test to judge.
 */
export async function pushAndInspect(
  registryHost: string,
  workDir: string,
  env: Record<string, string>,
  repository = 'demo:v1',
): Promise<{ pushed: RunResult; inspected: RunResult }> {
  const authfile = join(workDir, `auth-${repository.replace(/\W/g, '-')}.json`);
  writeFileSync(authfile, JSON.stringify({ credHelpers: { [registryHost]: 'credrelay' } }));
  const image = writeOciImage(join(workDir, `image-${repository.replace(/\W/g, '-')}`));
  const reference = `docker://${registryHost}/${repository}`;
  const pushed = await run('skopeo', ['copy', '--dest-tls-verify=false', '--authfile', authfile, image, reference], {
    env,
  });
  const inspected = await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, reference], { env });
  return { pushed, inspected };
}
