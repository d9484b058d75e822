/**
 * Objects worth keeping between token exchanges (an SDK client, a credential with its own token cache), one per key,
 * bounded: the least recently used is disposed of to make room. A creation that fails is forgotten, so the next
 * call tries again. Building one per exchange instead grew the daemon's memory and lost the object's own caching.
 */
export class ReusePool<T> {
  /**
   * Every pool of the process. Providers keep theirs at module level (one per process, like the SDKs they hold), but
   * what they hold (an SDK client's cached credentials, an Entra credential's tokens) is the daemon's state too:
   * `credrelay cache clear` and a stopping daemon empty them all (clearAll), as they empty the token cache.
   */
  private static readonly pools = new Set<ReusePool<unknown>>();

  /** Disposes of everything every pool holds; how many objects went. */
  static clearAll(): number {
    let cleared = 0;
    for (const pool of ReusePool.pools) cleared += pool.clear();
    return cleared;
  }

  private readonly entries = new Map<string, Promise<T>>();

  constructor(
    private readonly capacity: number,
    private readonly dispose: (evicted: T) => void = () => undefined,
  ) {
    ReusePool.pools.add(this as ReusePool<unknown>);
  }

  /** Disposes of everything this pool holds; how many objects went. */
  clear(): number {
    const held = [...this.entries.values()];
    this.entries.clear();
    for (const entry of held) entry.then(this.dispose, () => undefined);
    return held.length;
  }

  get(key: string, create: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key); // re-inserted below as the most recently used
    } else {
      entry = create();
      entry.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    this.entries.set(key, entry);
    for (const [oldestKey, oldest] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(oldestKey);
      oldest.then(this.dispose, () => undefined);
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
