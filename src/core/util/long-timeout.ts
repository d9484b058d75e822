/** The longest delay Node's timers take: a longer one (about 24.8 days and up) fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that may be cancelled; `unref` as Node's own. */
export interface LongTimeout {
  clear(): void;
  unref(): LongTimeout;
}

/**
 * setTimeout for any delay: past MAX_TIMER_MS it waits in steps, each at most that long, so a year-long idle
 * timeout or a 30-day unlock fires when it says, not a millisecond later.
 */
export function setLongTimeout(callback: () => void, ms: number): LongTimeout {
  let timer: NodeJS.Timeout | undefined;
  let unreferenced = false;
  const dueAt = Date.now() + Math.max(0, ms);
  const arm = (): void => {
    const left = dueAt - Date.now();
    timer = setTimeout(left > MAX_TIMER_MS ? arm : callback, Math.min(Math.max(left, 0), MAX_TIMER_MS));
    if (unreferenced) timer.unref();
  };
  arm();
  const handle: LongTimeout = {
    clear: () => clearTimeout(timer),
    unref: () => {
      unreferenced = true;
      timer?.unref();
      return handle;
    },
  };
  return handle;
}
