import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';

/**
 * Kubelet mode through the real binary and daemon, with a Docker Hub credential stored: image references that only
 * look like Docker Hub images, or are no references at all, never get it.
 */
let session: Keyring;
beforeAll(async () => {
  session = await startKeyring();
  const hub = JSON.stringify({
    ServerURL: 'https://index.docker.io/v1/',
    Username: 'hub-user',
    Secret: 'hub-pat-canary',
  });
  expect((await runHelper('store', hub, session.env)).code).toBe(0);
});
afterAll(async () => {
  await session.stop();
});

const kubelet = (image: string) =>
  runHelper(
    'kubelet',
    JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image }),
    session.env,
    [],
  ).then((result) => ({
    ...result,
    response: result.stdout ? (JSON.parse(result.stdout) as { auth: object }) : undefined,
  }));

describe('kubelet image references', () => {
  it('a Docker Hub image gets the Docker Hub credential', async () => {
    const result = await kubelet('library/nginx:1.27');
    expect(result.response?.auth).toEqual({ 'docker.io': { username: 'hub-user', password: 'hub-pat-canary' } });
  });

  it.each(['Evil/app:1', 'LOCALHOST/app'])('%s names its own registry, which has nothing', async (image) => {
    const result = await kubelet(image);
    expect(result.code).toBe(0);
    expect(result.response?.auth).toEqual({});
  });

  it.each(['//attacker.example/x', '/x/y', 'docker.io/Library/nginx'])(
    '%s is not a reference: an empty auth, and a line on stderr',
    async (image) => {
      const result = await kubelet(image);
      expect(result.code).toBe(0);
      expect(result.response?.auth).toEqual({});
      expect(result.stderr).toMatch(/^credrelay: the image reference .* is not valid: /);
      expect(result.stdout + result.stderr).not.toContain('hub-pat-canary');
    },
  );
});
