/**
 * Objects worth keeping between token exchanges (an SDK client, a credential with its own token cache), one per key,
 * bounded: the least recently used is disposed of to make room. A creation that fails is forgotten, so the next
 * call tries again. Building one per exchange instead grew the daemon's memory and lost the object's own caching.
 */
export class ReusePool<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(
    private readonly capacity: number,
    private readonly dispose: (evicted: T) => void = () => undefined,
  ) {}

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
