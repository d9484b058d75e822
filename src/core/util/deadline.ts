/**
 * Settles with `promise`, or rejects with `onTimeout()` after `ms`. Every keychain and network call goes through
 * this, because a helper that hangs hangs `docker pull` with it.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
