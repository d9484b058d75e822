import NodeCache from 'node-cache';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { Credential } from '../core/provider.js';

/** What a cached credential is for: the provider, the identity it acted as, and the registry. */
interface CacheKey {
  readonly provider: string;
  /** AWS profile or role, Google principal…: two identities never share a token. */
  readonly identity: string;
  readonly registry: string;
}

/** A cache entry as `credrelay cache list` shows it: never the secret. */
interface CacheEntryInfo extends CacheKey {
  readonly fetchedAt: Date;
  readonly refreshAt: Date;
  readonly expiresAt: Date;
  /** The issuer gave less than MIN_LIFE_HANDED_OUT_MS of life even when asked afresh: it cannot do better. */
  readonly shortLived?: true;
}

interface Entry extends CacheKey {
  readonly credential: Credential;
  readonly fetchedAt: number;
  readonly refreshAt: number;
  readonly expiresAt: number;
  /** What `cache list` shows as its expiry: the token's own, or for a kept credential, the end of its keep. */
  readonly shownExpiresAt: number;
  /** Fetched afresh with less than MIN_LIFE_HANDED_OUT_MS left: the most its issuer gives. */
  readonly shortLived: boolean;
}

interface TokenCacheOptions {
  /** Milliseconds since the epoch; injected so tests never sleep. */
  readonly clock?: () => number;
  readonly logger?: Logger;
}

/**
 * The least life a handed-out token has, where its issuer can mint a longer one: callers keep an answer (BuildKit for
 * 10 minutes, the kubelet for the cacheDuration given), and a long build pushes at its end. A cached token closer to
 * its end than this is replaced before it is handed out.
 */
export const MIN_LIFE_HANDED_OUT_MS = 15 * 60 * 1000;
/** Refresh in the background no later than this before expiry: 5 minutes before a token falls below the least. */
const REFRESH_BEFORE_EXPIRY_MS = MIN_LIFE_HANDED_OUT_MS + 5 * 60 * 1000;
/** A token this close to expiry is never handed out: it could expire between us and the registry. */
const EXPIRY_MARGIN_MS = 30 * 1000;
const MAX_ENTRIES = 10_000;

/**
 * When a credential fetched at `fetchedAt` should be refreshed in the background: half its lifetime or 20 minutes
 * before expiry, whichever is sooner; at once for one too short for that (one refresh at a time, while it is served).
 */
export function refreshPoint(fetchedAt: number, expiresAt: number): number {
  const halfLife = fetchedAt + (expiresAt - fetchedAt) / 2;
  return Math.max(fetchedAt, Math.min(halfLife, expiresAt - REFRESH_BEFORE_EXPIRY_MS));
}

const cacheId = (key: CacheKey): string => JSON.stringify([key.provider, key.identity, key.registry]);

/**
 * Short-lived credentials (cloud tokens) in daemon memory only. An entry is fresh until its refresh point; after it,
 * the cached token is still served while one background fetch replaces it, so a client rarely waits on a token
 * exchange. Concurrent misses for one key share one upstream call. A credential without an expiry is cached only
 * for the `keep` a provider asks (`cachePolicy.keepSeconds`, an exec helper's answer); what the keychain holds is
 * read from it for every request, never kept here.
 */
export class TokenCache {
  private readonly store = new NodeCache({ useClones: false, checkperiod: 60, maxKeys: MAX_ENTRIES });
  private readonly inFlight = new Map<string, Promise<Credential | undefined>>();
  private readonly clock: () => number;
  private readonly logger: Logger;

  constructor(options: TokenCacheOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * A cached credential for `key`, or the result of `fetch` (shared with every concurrent caller). A credential with
   * no expiry of its own is kept for `keepMs` when that is given (and refreshed only once that has passed), else not.
   */
  async get(key: CacheKey, fetch: () => Promise<Credential | undefined>, keepMs = 0): Promise<Credential | undefined> {
    const id = cacheId(key);
    const entry = this.store.get<Entry>(id);
    const now = this.clock();
    // Served from memory while it has the least life a caller may keep it for, or, from an issuer that gives no
    // more, until just before it expires. One closer to its end waits for a new one (a failure is then the error).
    const servable =
      entry !== undefined &&
      now < entry.expiresAt - EXPIRY_MARGIN_MS &&
      (entry.shortLived || now < entry.expiresAt - MIN_LIFE_HANDED_OUT_MS);
    if (entry !== undefined && servable) {
      if (now >= entry.refreshAt && !this.inFlight.has(id)) {
        this.fetchOnce(id, key, fetch).catch((error: unknown) => {
          // The cached token is still valid: keep serving it, and try again on the next request.
          this.logger.warn('background refresh failed; serving the cached token until it expires', {
            provider: key.provider,
            registry: key.registry,
            reason: error instanceof Error ? error.message : 'unknown',
          });
        });
      }
      return entry.credential;
    }
    return this.fetchOnce(id, key, fetch, keepMs);
  }

  private fetchOnce(
    id: string,
    key: CacheKey,
    fetch: () => Promise<Credential | undefined>,
    keepMs = 0,
  ): Promise<Credential | undefined> {
    let pending = this.inFlight.get(id);
    if (pending === undefined) {
      pending = fetch()
        .then((credential) => {
          if (credential?.expiresAt !== undefined) this.remember(id, key, credential);
          else if (credential !== undefined && keepMs > 0) this.keep(id, key, credential, keepMs);
          return credential;
        })
        .finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    return pending;
  }

  /** A long-lived credential, kept for `keepMs` and then fetched again: no refresh ahead, nothing expires it early. */
  private keep(id: string, key: CacheKey, credential: Credential, keepMs: number): void {
    const fetchedAt = this.clock();
    // Served while `now < expiresAt - EXPIRY_MARGIN_MS`, so exactly `keepMs`; it expires then, as listed.
    const expiresAt = fetchedAt + keepMs + EXPIRY_MARGIN_MS;
    this.put(id, {
      ...key,
      credential,
      fetchedAt,
      refreshAt: expiresAt,
      expiresAt,
      shownExpiresAt: fetchedAt + keepMs,
      shortLived: true, // kept for exactly its keep, as the provider asked
    });
  }

  private remember(id: string, key: CacheKey, credential: Credential | undefined): void {
    if (credential?.expiresAt === undefined) return;
    const fetchedAt = this.clock();
    const expiresAt = credential.expiresAt.getTime();
    if (expiresAt - EXPIRY_MARGIN_MS <= fetchedAt) {
      this.logger.warn('the provider returned a token that is already expired; not caching it', {
        provider: key.provider,
        registry: key.registry,
      });
      return;
    }
    const shortLived = expiresAt - fetchedAt < MIN_LIFE_HANDED_OUT_MS;
    if (shortLived) {
      this.logger.info('the issuer gave a token with less than 15 minutes of life; it is the most it gives', {
        provider: key.provider,
        registry: key.registry,
        seconds: Math.round((expiresAt - fetchedAt) / 1000),
      });
    }
    this.put(id, {
      ...key,
      credential,
      fetchedAt,
      refreshAt: refreshPoint(fetchedAt, expiresAt),
      expiresAt,
      shownExpiresAt: expiresAt,
      shortLived,
    });
  }

  /** Stores an entry, or serves without caching when the cache is full (node-cache refuses past MAX_ENTRIES). */
  private put(id: string, entry: Entry): void {
    try {
      // node-cache's own TTL only bounds memory; freshness is decided above with the injected clock.
      this.store.set(id, entry, Math.ceil((entry.expiresAt - entry.fetchedAt) / 1000));
    } catch {
      this.logger.warn('token cache is full; serving without caching', { entries: MAX_ENTRIES });
    }
  }

  list(): CacheEntryInfo[] {
    return this.store.keys().flatMap((id) => {
      const entry = this.store.get<Entry>(id);
      if (entry === undefined) return [];
      const { provider, identity, registry } = entry;
      return [
        {
          provider,
          identity,
          registry,
          fetchedAt: new Date(entry.fetchedAt),
          refreshAt: new Date(Math.min(entry.refreshAt, entry.shownExpiresAt)),
          expiresAt: new Date(entry.shownExpiresAt),
          ...(entry.shortLived && entry.shownExpiresAt === entry.expiresAt ? { shortLived: true as const } : {}),
        },
      ];
    });
  }

  /** Drops every entry, those for one registry key, or those a predicate picks; returns how many went. */
  clear(which?: string | ((key: CacheKey) => boolean)): number {
    const picks = (entry: Entry | undefined): boolean =>
      entry !== undefined &&
      (which === undefined || (typeof which === 'string' ? entry.registry === which : which(entry)));
    return this.store.del(this.store.keys().filter((id) => picks(this.store.get<Entry>(id))));
  }

  get size(): number {
    return this.store.keys().length;
  }

  /** Stops node-cache's expiry timer, so a process can exit. */
  close(): void {
    this.store.close();
  }
}
