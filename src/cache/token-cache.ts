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
}

interface Entry extends CacheKey {
  readonly credential: Credential;
  readonly fetchedAt: number;
  readonly refreshAt: number;
  readonly expiresAt: number;
  /** What `cache list` shows as its expiry: the token's own, or for a kept credential, the end of its keep. */
  readonly shownExpiresAt: number;
}

interface TokenCacheOptions {
  /** Milliseconds since the epoch; injected so tests never sleep. */
  readonly clock?: () => number;
  readonly logger?: Logger;
}

/** Refresh no later than this before expiry. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;
/** A token this close to expiry is not handed out: it could expire between us and the registry. */
const EXPIRY_MARGIN_MS = 30 * 1000;
const MAX_ENTRIES = 10_000;

/** When a credential fetched at `fetchedAt` should be refreshed: half its lifetime or 5 minutes before expiry, whichever is sooner. */
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
    if (entry !== undefined && now < entry.expiresAt - EXPIRY_MARGIN_MS) {
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
    this.put(id, {
      ...key,
      credential,
      fetchedAt,
      refreshAt: refreshPoint(fetchedAt, expiresAt),
      expiresAt,
      shownExpiresAt: expiresAt,
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
