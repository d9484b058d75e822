import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, setLongTimeout } from '../../src/core/util/long-timeout.js';
import { parseConfig } from '../../src/core/config.js';

afterEach(() => vi.useRealTimers());

describe('long timeouts', () => {
  it('a year waits a year, where setTimeout would fire after 1 ms', () => {
    vi.useFakeTimers();
    const year = 365 * 86_400_000;
    let fired = 0;
    setLongTimeout(() => (fired += 1), year);
    vi.advanceTimersByTime(MAX_TIMER_MS + 10);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(year - MAX_TIMER_MS - 20);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(20);
    expect(fired).toBe(1);
  });

  it('a short one fires as setTimeout does, and a cleared one never', () => {
    vi.useFakeTimers();
    let fired = 0;
    setLongTimeout(() => (fired += 1), 50);
    const cleared = setLongTimeout(() => (fired += 10), 3 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    cleared.clear();
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fired).toBe(1);
  });

  it('the configuration takes up to ten years, and names the limit past it', () => {
    const daemon = (idleTimeoutSeconds: number) => parseConfig({ daemon: { idleTimeoutSeconds } }, '/c.json').daemon;
    expect(daemon(31_536_000).idleTimeoutSeconds).toBe(31_536_000);
    expect(() => daemon(400 * 365 * 86_400)).toThrow(/up to 315360000 \(ten years\)/);
  });
});
