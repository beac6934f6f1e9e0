// Timers that must not keep a Node process alive (heartbeats, refreshes, backoff nobody awaits).
// Browsers' timers are plain numbers with nothing to unref.

export function unrefTimer(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
