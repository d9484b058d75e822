import { describe, expect, it } from 'vitest';
import { CredrelayError } from '../../src/core/errors.js';
import { cacheDurationFor, goDuration, handleKubeletRequest } from '../../src/kubelet/credential-provider.js';
import { registryOfImage } from '../../src/kubelet/image-registry.js';
import type { Router } from '../../src/routing/router.js';
import type { PodIdentity } from '../../src/core/provider.js';
import { podIdentityOf } from '../../src/kubelet/pod-identity.js';
import { serviceAccountToken } from '../support/jwt.js';

/** A router's decision for a registry with no repository routes: what these fakes route by. */
const hostDecision = () => ({ reason: { kind: 'matcher' }, pathRoutes: [] });

describe('goDuration: Go time.Duration.String() for whole seconds', () => {
  it.each([
    [0, '0s'],
    [1, '1s'],
    [59, '59s'],
    [60, '1m0s'],
    [90, '1m30s'],
    [3600, '1h0m0s'],
    [21600, '6h0m0s'],
    [43199, '11h59m59s'],
    [90061, '25h1m1s'],
    [1.9, '1s'],
  ])('%s s -> %s', (seconds, text) => expect(goDuration(seconds)).toBe(text));
});

describe('cacheDurationFor', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('is half the remaining lifetime', () => {
    expect(cacheDurationFor(new Date(now + 12 * 3600_000), now)).toBe('6h0m0s');
    expect(cacheDurationFor(new Date(now + 3599_000), now)).toBe('29m59s');
  });
  it('is never zero for a token that is still valid, nor longer than it', () => {
    expect(cacheDurationFor(new Date(now + 1500), now)).toBe('1s');
  });
  it('is 0s (do not cache) for an expired token, and absent without an expiry', () => {
    expect(cacheDurationFor(new Date('2015-01-01T00:00:00Z'), now)).toBe('0s');
    expect(cacheDurationFor(undefined, now)).toBeUndefined();
  });
});

describe('registryOfImage', () => {
  it.each([
    ['nginx', 'docker.io'],
    ['nginx:1.27', 'docker.io'],
    ['library/nginx', 'docker.io'],
    ['bitnami/redis@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945', 'docker.io'],
    ['docker.io/library/nginx', 'docker.io'],
    ['index.docker.io/library/nginx', 'docker.io'],
    ['localhost/app', 'localhost'],
    ['localhost:5000/app:v1', 'localhost:5000'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000'],
    ['[::1]:5000/app', '[::1]:5000'],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:1.4.2', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
    ['US-Docker.pkg.dev/p/r/i', 'us-docker.pkg.dev'],
    ['gcr.io/p/i@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945', 'gcr.io'],
  ])('%s -> %s', (image, key) => expect(registryOfImage(image).key).toBe(key));
  it.each(['', 'bad host.example/x', 'user@registry.example/x', 'https://r.example/x'])('refuses %j', (image) =>
    expect(() => registryOfImage(image)).toThrow(),
  );
});

/**
 * distribution/reference's own examples (ParseNormalizedNamed), as kubelet and Docker parse them: the registry each
 * valid reference names, and the references it refuses. The last valid ones are the look-alikes that once got the
 * Docker Hub credential: an upper-case first component is a domain, not a Docker Hub namespace.
 */
describe('image references as distribution/reference parses them', () => {
  const digest = 'sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945';
  it.each([
    ['test_com', 'docker.io'],
    ['test.com:tag', 'docker.io'],
    ['test.com:5000', 'docker.io'],
    ['test.com/repo:tag', 'test.com'],
    ['test:5000/repo', 'test:5000'],
    ['test:5000/repo:tag', 'test:5000'],
    [`test:5000/repo@${digest}`, 'test:5000'],
    [`test:5000/repo:tag@${digest}`, 'test:5000'],
    ['lowercase:Uppercase', 'docker.io'],
    ['sub-dom1.foo.com/bar/baz/quux', 'sub-dom1.foo.com'],
    ['sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com'],
    ['b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io'],
    ['xn--n3h.com/myimage:xn--n3h.com', 'xn--n3h.com'],
    ['foo_bar.com:8080', 'docker.io'],
    ['foo/foo_bar.com:8080', 'docker.io'],
    ['[2001:db8::1]:5000/repo', '[2001:db8::1]:5000'],
    ['localhost/repo', 'localhost'],
    ['Evil/app:1', 'evil'],
    ['LOCALHOST/app', 'localhost'],
    ['Registry.Example/app', 'registry.example'],
  ])('%s is on %s', (image, key) => expect(registryOfImage(image).key).toBe(key));

  it.each([
    ['', /1 to 4096 characters/],
    [':justtag', /reference grammar/],
    [`@${digest}`, /reference grammar/],
    ['repo@sha256:ffff', /reference grammar/],
    ['Uppercase:tag', /must be lower-case/],
    ['docker.io/Library/nginx', /must be lower-case/],
    ['test:5000/Uppercase/lowercase:tag', /must be lower-case/],
    ['aa/asdf$$^/aa', /reference grammar/],
    ['-foo/bar', /reference grammar/],
    ['foo/bar-/baz', /reference grammar/],
    ['foo:bar/baz', /reference grammar/],
    ['//attacker.example/x', /reference grammar/],
    ['/x/y', /reference grammar/],
    ['registry.example//x', /reference grammar/],
    ['4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945', /image ID/],
    [`${'a/'.repeat(128)}a:tag`, /longer than 255/],
  ])('refuses %j', (image, message) => expect(() => registryOfImage(image)).toThrowError(message));
});

describe('handleKubeletRequest', () => {
  const now = () => Date.parse('2026-01-01T00:00:00Z');
  const router = (credential: Awaited<ReturnType<Router['credentialFor']>>) =>
    ({ decide: hostDecision, credentialFor: async () => credential }) as unknown as Router;
  const request = (fields: Record<string, unknown>) =>
    Buffer.from(
      JSON.stringify({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderRequest',
        ...fields,
      }),
    );

  it('answers exactly the fields kubelet decodes', async () => {
    const reply = await handleKubeletRequest(
      request({ image: 'gcr.io/p/i' }),
      router({ username: 'oauth2accesstoken', secret: 'ya29.x', expiresAt: new Date(now() + 3600_000) }),
      now,
    );
    expect(reply.exitCode).toBe(0);
    expect(JSON.parse(reply.stdout)).toStrictEqual({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Registry',
      cacheDuration: '30m0s',
      auth: { 'gcr.io': { username: 'oauth2accesstoken', password: 'ya29.x' } },
    });
  });

  it('echoes v1beta1, and accepts service-account fields', async () => {
    const reply = await handleKubeletRequest(
      request({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1',
        image: 'nginx',
        serviceAccountToken: 't',
        serviceAccountAnnotations: { a: 'b' },
      }),
      router(undefined),
      now,
    );
    expect(JSON.parse(reply.stdout)).toStrictEqual({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Registry',
      auth: {},
    });
  });

  it.each([
    [Buffer.from('not json'), /stdin is not a JSON CredentialProviderRequest/],
    [request({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1alpha1', image: 'x' }), /unsupported apiVersion/],
    [request({ kind: 'Pod', image: 'x' }), /kind must be CredentialProviderRequest/],
    [request({}), /no "image"/],
  ])('refuses a bad request on stderr with exit 1', async (input, message) => {
    const reply = await handleKubeletRequest(input, router(undefined), now);
    expect(reply).toMatchObject({ stdout: '', exitCode: 1 });
    expect(reply.stderr).toMatch(message);
  });

  it('reports a provider failure on stderr with exit 1, and nothing on stdout', async () => {
    const failing = {
      decide: hostDecision,
      credentialFor: async () =>
        Promise.reject(new CredrelayError('PROVIDER_FAILED', 'ECR credentials for r: no AWS credentials found')),
    } as unknown as Router;
    const reply = await handleKubeletRequest(request({ image: 'r.example/x' }), failing, now);
    expect(reply).toEqual({
      stdout: '',
      stderr: 'credrelay: ECR credentials for r: no AWS credentials found\n',
      exitCode: 1,
    });
  });
});

describe('pod identity in a v1 request (KEP-4412)', () => {
  const token = serviceAccountToken('team-a', 'puller', 'sts.amazonaws.com');

  it('reads the service account from the token, and the annotations as given', () => {
    expect(podIdentityOf({ serviceAccountToken: token, serviceAccountAnnotations: { 'x.example/role': 'r' } })).toEqual(
      {
        token,
        annotations: { 'x.example/role': 'r' },
        namespace: 'team-a',
        serviceAccount: 'puller',
      },
    );
    expect(podIdentityOf({})).toBeUndefined();
    expect(podIdentityOf({ serviceAccountToken: '', serviceAccountAnnotations: {} })).toBeUndefined();
    // What kubelet 1.33+ sends without tokenAttributes (its Go fields have no omitempty), and with a token but no
    // annotation keys configured.
    expect(podIdentityOf({ serviceAccountToken: '', serviceAccountAnnotations: null })).toBeUndefined();
    expect(podIdentityOf({ serviceAccountToken: token, serviceAccountAnnotations: null })?.annotations).toEqual({});
  });

  it.each([
    [{ serviceAccountToken: 42 }, /"serviceAccountToken" is not a service-account token/],
    [{ serviceAccountToken: 'secret-value-not-a-jwt' }, /"serviceAccountToken" is not a service-account token/],
    [{ serviceAccountToken: `${token}x`.replace('.', '..') }, /is not a service-account token/],
    [
      { serviceAccountToken: `e30.${Buffer.from('{"sub":"alice"}').toString('base64url')}.s` },
      /does not name a service account/,
    ],
    [{ serviceAccountToken: token, serviceAccountAnnotations: [] }, /must be an object of strings/],
    [{ serviceAccountToken: token, serviceAccountAnnotations: { 'a/b': 1 } }, /values must be strings/],
    [
      { serviceAccountToken: token, serviceAccountAnnotations: { 'not a key': 'v' } },
      /not a Kubernetes annotation key/,
    ],
    [
      {
        serviceAccountToken: token,
        serviceAccountAnnotations: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])),
      },
      /more than 64 entries/,
    ],
    [{ serviceAccountToken: 'a.b.' + 'c'.repeat(16 * 1024) }, /at most 16384 bytes/],
  ])('refuses %j, never quoting the token', (fields, message) => {
    let error: unknown;
    try {
      podIdentityOf(fields);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'INVALID_INPUT' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('secret-value');
    expect((error as Error).message).not.toContain(token.slice(0, 20));
  });

  it('recorded requests: those with a token carry their pod to the router, the others none', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = join(import.meta.dirname, '..', 'fixtures', 'kubelet');
    const seen: Record<string, string | undefined> = {};
    for (const name of readdirSync(dir).sort()) {
      const router = {
        decide: hostDecision,
        credentialFor: async (_registry: unknown, _context: unknown, pod?: PodIdentity) => {
          seen[name] = pod && `${pod.namespace}/${pod.serviceAccount} ${Object.keys(pod.annotations).join(',')}`;
          return undefined;
        },
      } as unknown as Router;
      const reply = await handleKubeletRequest(readFileSync(join(dir, name)), router);
      expect(reply.exitCode, name).toBe(0);
    }
    expect(seen).toEqual({
      'docker-hub.json': undefined,
      'ecr-v1-kubelet-without-token-attributes.json': undefined,
      'ecr-v1-service-account.json': 'team-a/api eks.amazonaws.com/ecr-role-arn',
      'ecr-v1.json': undefined,
      'gar-v1-service-account-token.json': 'team-b/worker iam.gke.io/gcp-service-account',
      'gar-v1-service-account.json': 'default/app iam.gke.io/gcp-service-account',
      'gcr-v1beta1.json': undefined,
      'spoofed-ecr-v1-service-account.json': 'team-a/api eks.amazonaws.com/ecr-role-arn',
      'spoofed-ecr.json': undefined,
    });
  });

  it('hands the pod to the router for v1 only', async () => {
    const seen: Array<PodIdentity | undefined> = [];
    const router = {
      decide: hostDecision,
      credentialFor: async (_registry: unknown, _context: unknown, pod?: PodIdentity) => {
        seen.push(pod);
        return undefined;
      },
    } as unknown as Router;
    const body = (apiVersion: string) =>
      Buffer.from(
        JSON.stringify({
          apiVersion,
          kind: 'CredentialProviderRequest',
          image: 'gcr.io/p/i',
          serviceAccountToken: token,
        }),
      );
    await handleKubeletRequest(body('credentialprovider.kubelet.k8s.io/v1'), router);
    await handleKubeletRequest(body('credentialprovider.kubelet.k8s.io/v1beta1'), router);
    expect(seen.map((pod) => pod?.serviceAccount)).toEqual(['puller', undefined]);
  });
});
