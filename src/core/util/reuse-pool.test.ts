import { describe, expect, it } from 'vitest';
import { ReusePool } from './reuse-pool.js';

describe('ReusePool', () => {
  it('reuses an object per key and disposes of the least recently used beyond capacity', async () => {
    const disposed: string[] = [];
    const pool = new ReusePool<string>(2, (evicted) => disposed.push(evicted));
    let made = 0;
    const make = (name: string) => () => Promise.resolve(`${name}#${++made}`);
    expect(await pool.get('a', make('a'))).toBe('a#1');
    expect(await pool.get('a', make('a'))).toBe('a#1');
    await pool.get('b', make('b'));
    await pool.get('a', make('a')); // a is now the most recently used
    await pool.get('c', make('c'));
    await Promise.resolve();
    expect(disposed).toEqual(['b#2']);
    expect(pool.size).toBe(2);
  });

  it('forgets a creation that failed, so the next call tries again', async () => {
    const pool = new ReusePool<string>(4);
    await expect(pool.get('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await pool.get('k', () => Promise.resolve('up'))).toBe('up');
  });

  it('clearAll empties every pool of the process and disposes of what they held', async () => {
    const disposed: string[] = [];
    const first = new ReusePool<string>(4, (evicted) => disposed.push(evicted));
    const second = new ReusePool<string>(4, (evicted) => disposed.push(evicted));
    await first.get('x', () => Promise.resolve('client-x'));
    await second.get('y', () => Promise.resolve('client-y'));
    expect(ReusePool.clearAll()).toBeGreaterThanOrEqual(2);
    await Promise.resolve();
    expect(first.size).toBe(0);
    expect(second.size).toBe(0);
    expect(disposed.sort()).toEqual(['client-x', 'client-y']);
    expect(await first.get('x', () => Promise.resolve('client-x2'))).toBe('client-x2');
  });
});
