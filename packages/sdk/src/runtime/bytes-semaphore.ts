import { abortReason } from './http.js';

// A budget of bytes in flight. Like the official SDK's BytesSemaphore, a waiter enters as soon as
// the budget is not negative, so one payload larger than the whole budget still gets through.
export class BytesSemaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  get availableBytes(): number {
    return this.available;
  }

  /** Resolves with a release function once `bytes` may be taken. */
  async acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    while (this.available < 0) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(abortReason(signal!));
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    this.available -= bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.available += bytes;
      for (const w of this.waiters.splice(0)) w();
    };
  }
}
