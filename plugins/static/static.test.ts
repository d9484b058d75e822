import { describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { createStaticProvider } from './index.js';

runProviderContract('static', {
  create: createStaticProvider,
  ownHosts: [],
  spoofedHosts: ['registry.example', 'docker.io'],
  answers: {
    host: 'docker.io',
    options: { username: 'myuser', password: '$DOCKERHUB_TOKEN' },
    secrets: { DOCKERHUB_TOKEN: 'pat' },
  },
  fails: {
    host: 'docker.io',
    options: { username: 'myuser', password: '$DOCKERHUB_TOKEN' },
    outcome: /DOCKERHUB_TOKEN/,
  },
});

describe('static provider', () => {
  const provider = createStaticProvider();
  it('answers the username and the referenced secret', async () => {
    const context = testContext(
      { username: 'myuser', password: '$DOCKERHUB_TOKEN' },
      { DOCKERHUB_TOKEN: 'dckr_pat_x' },
    );
    expect(await provider.get(parseRegistry('docker.io'), context)).toEqual({
      username: 'myuser',
      secret: 'dckr_pat_x',
    });
  });
  it('resolves a username reference too', async () => {
    const context = testContext(
      { username: '$REG_USER', password: '$REG_PASS' },
      { REG_USER: 'ci-bot', REG_PASS: 'p' },
    );
    expect(await provider.get(parseRegistry('r.example'), context)).toEqual({ username: 'ci-bot', secret: 'p' });
  });
  it('fails with the missing secret named, never with an empty password', async () => {
    await expect(
      provider.get(parseRegistry('docker.io'), testContext({ username: 'u', password: '$DOCKERHUB_TOKEN' })),
    ).rejects.toThrowError(/secret DOCKERHUB_TOKEN is not set/);
  });
  it('declares a password that must be a reference', () => {
    expect(provider.routes!.options.password!.pattern!.test('$DOCKERHUB_TOKEN')).toBe(true);
    expect(provider.routes!.options.password!.pattern!.test('hunter2')).toBe(false);
  });
});
