import { describe, expect, it } from 'vitest';
import { TokenCache, refreshPoint } from '../../src/cache/token-cache.js';
import type { Credential } from '../../src/core/provider.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const key = { provider: 'test', identity: 'profile-a', registry: 'r.example' };

/** A clock the test moves, and an upstream that counts its calls and can be told to fail or wait. */
function harness(lifetimeMs = 12 * HOUR) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  let calls = 0;
  let failing = false;
  let gate: Promise<void> | undefined;
  const cache = new TokenCache({ clock: () => now });
  const fetch = async (): Promise<Credential> => {
    calls += 1;
    const call = calls;
    if (gate) await gate;
    if (failing) throw new Error('upstream down');
    return { username: 'AWS', secret: `token-${call}`, expiresAt: new Date(now + lifetimeMs) };
  };
  return {
    cache,
    fetch,
    get calls() {
      return calls;
    },
    advance: (ms: number) => (now += ms),
    fail: (value: boolean) => (failing = value),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe('refreshPoint', () => {
  it('is half the lifetime for long tokens', () => {
    expect(refreshPoint(0, 12 * HOUR)).toBe(6 * HOUR);
  });
  it('is 20 minutes before expiry (5 before a token falls below the least handed out) when that is sooner', () => {
    expect(refreshPoint(0, 30 * MINUTE)).toBe(10 * MINUTE);
    expect(refreshPoint(0, HOUR)).toBe(30 * MINUTE);
    expect(refreshPoint(0, 50 * MINUTE)).toBe(25 * MINUTE);
  });
  it('is at once for a token too short for that', () => {
    expect(refreshPoint(0, 8 * MINUTE)).toBe(0);
    expect(refreshPoint(0, 20 * MINUTE)).toBe(0);
  });
  it('is never before the fetch', () => {
    expect(refreshPoint(1000, 1000 + 2 * MINUTE)).toBe(1000);
  });
});

describe('TokenCache', () => {
  it('serves a fresh token from memory without calling upstream', async () => {
    const h = harness();
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    h.advance(5 * HOUR);
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    expect(h.calls).toBe(1);
  });

  it('after the refresh point, serves the cached token and refreshes once in the background', async () => {
    const h = harness();
    await h.cache.get(key, h.fetch);
    h.advance(6 * HOUR + 1);
    const release = h.hold();
    const served = await Promise.all([h.cache.get(key, h.fetch), h.cache.get(key, h.fetch), h.cache.get(key, h.fetch)]);
    expect(served.map((c) => c?.secret)).toEqual(['token-1', 'token-1', 'token-1']);
    expect(h.calls).toBe(2);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-2');
    expect(h.calls).toBe(2);
  });

  it('keeps serving a still-valid token while refreshes fail', async () => {
    const h = harness();
    await h.cache.get(key, h.fetch);
    h.fail(true);
    h.advance(7 * HOUR);
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    await new Promise((resolve) => setImmediate(resolve));
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    expect(h.calls).toBe(3);
  });

  it('waits for upstream once the token is expired, and surfaces the failure then', async () => {
    const h = harness();
    await h.cache.get(key, h.fetch);
    h.advance(12 * HOUR);
    h.fail(true);
    await expect(h.cache.get(key, h.fetch)).rejects.toThrow('upstream down');
    h.fail(false);
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-3');
  });

  it('replaces a token with less than 15 minutes left before handing it out, and fails rather than hand it out', async () => {
    const h = harness();
    await h.cache.get(key, h.fetch);
    h.advance(12 * HOUR - 14 * MINUTE); // callers keep answers for up to 10 minutes (BuildKit): too close to its end
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-2');
    h.advance(12 * HOUR - 14 * MINUTE);
    h.fail(true);
    await expect(h.cache.get(key, h.fetch)).rejects.toThrow('upstream down');
  });

  it('serves what an issuer that gives no more gives (short tokens), until 30 s before it expires, and lists it so', async () => {
    const h = harness(10 * MINUTE); // every token lives 10 minutes: the most this issuer gives
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    expect(h.cache.list()[0]).toMatchObject({ shortLived: true });
    h.advance(4 * MINUTE);
    h.fail(true); // the issuer is down: what it gave is served, not an error, while it lasts
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    await new Promise((resolve) => setImmediate(resolve));
    h.advance(6 * MINUTE - 31_000);
    expect((await h.cache.get(key, h.fetch))?.secret).toBe('token-1');
    h.advance(2_000); // within 30 s of its expiry: never handed out
    await expect(h.cache.get(key, h.fetch)).rejects.toThrow('upstream down');
  });

  it('shares one upstream call among 300 concurrent misses', async () => {
    const h = harness();
    const release = h.hold();
    const pending = Array.from({ length: 300 }, () => h.cache.get(key, h.fetch));
    release();
    const results = await Promise.all(pending);
    expect(new Set(results.map((c) => c?.secret))).toEqual(new Set(['token-1']));
    expect(h.calls).toBe(1);
  });

  it('keys by provider, identity and registry', async () => {
    const h = harness();
    await h.cache.get(key, h.fetch);
    await h.cache.get({ ...key, identity: 'profile-b' }, h.fetch);
    await h.cache.get({ ...key, registry: 'other.example' }, h.fetch);
    await h.cache.get({ ...key, provider: 'other' }, h.fetch);
    expect(h.calls).toBe(4);
    expect(h.cache.size).toBe(4);
  });

  it('never caches long-lived or already-expired credentials', async () => {
    const h = harness();
    let calls = 0;
    const longLived = async (): Promise<Credential> => ({ username: 'u', secret: `s${(calls += 1)}` });
    await h.cache.get(key, longLived);
    await h.cache.get(key, longLived);
    expect(calls).toBe(2);
    const expired = async (): Promise<Credential> => ({
      username: 'u',
      secret: 's',
      expiresAt: new Date('2015-01-01T00:00:00Z'),
    });
    await h.cache.get({ ...key, registry: 'moto.example' }, expired);
    expect(h.cache.size).toBe(0);
  });

  it('lists entries without their secrets and clears one registry or all', async () => {
    const h = harness();
    await h.cache.get(key, h.fetch);
    await h.cache.get({ ...key, registry: 'other.example' }, h.fetch);
    const listed = h.cache.list();
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatchObject({
      provider: 'test',
      identity: 'profile-a',
      expiresAt: expect.any(Date),
      refreshAt: expect.any(Date),
    });
    expect(JSON.stringify(listed)).not.toContain('token-');
    expect(h.cache.clear('other.example')).toBe(1);
    expect(h.cache.list().map((entry) => entry.registry)).toEqual(['r.example']);
    expect(h.cache.clear()).toBe(1);
    expect(h.cache.size).toBe(0);
    h.cache.close();
  });
});

describe('a credential without an expiry of its own', () => {
  it('is not cached, unless it is to be kept: then it is served for that long, then fetched again', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    let calls = 0;
    const cache = new TokenCache({ clock: () => now });
    const fetch = async (): Promise<Credential> => ({ username: 'u', secret: `pat-${(calls += 1)}` });
    await cache.get(key, fetch);
    await cache.get(key, fetch);
    expect(calls).toBe(2);
    const kept = { ...key, registry: 'kept.example' };
    expect((await cache.get(kept, fetch, 300_000))?.secret).toBe('pat-3');
    // Listed as expiring when it stops being served: cacheSeconds after it was fetched, not a margin later.
    expect(cache.list()[0]?.expiresAt).toEqual(new Date(now + 300_000));
    now += 299_000;
    expect((await cache.get(kept, fetch, 300_000))?.secret).toBe('pat-3'); // no refresh ahead of time
    expect(calls).toBe(3);
    now += 2_000;
    expect((await cache.get(kept, fetch, 300_000))?.secret).toBe('pat-4');
  });
});
