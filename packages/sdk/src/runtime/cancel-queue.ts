// Server-side cancellation of abandoned requests (POST cancel_future {request_id}). Cancels are
// best effort: they are queued and sent in parallel rounds of at most the server's
// `sample_cancel_max_batch_size`, never retried, and their failures only logged — the caller's
// future has already rejected with APIUserAbortError by the time a cancel is sent.

export interface CancelQueueHooks {
  /** Sends one cancel_future; may throw (the failure is reported through `report`). */
  send(requestId: string): Promise<void>;
  /** How many cancels may be in flight at once (read before every round). */
  batchSize(): number;
  report(msg: string): void;
}

export class CancelQueue {
  private readonly queue: string[] = [];
  private draining = false;
  private stopped = false;

  constructor(private readonly hooks: CancelQueueHooks) {}

  enqueue(requestId: string): void {
    if (this.stopped) return;
    this.queue.push(requestId);
    if (this.draining) return;
    this.draining = true;
    void this.drain();
  }

  /** Drops what is still queued; cancels already sent run to their end. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    // Let the aborts of one synchronous stretch gather into one round.
    await Promise.resolve();
    while (this.queue.length > 0 && !this.stopped) {
      const size = Math.max(1, Math.floor(this.hooks.batchSize()) || 1);
      const round = this.queue.splice(0, size);
      const outcomes = await Promise.allSettled(round.map((id) => this.hooks.send(id)));
      outcomes.forEach((o, i) => {
        if (o.status === 'rejected') {
          const why = o.reason instanceof Error ? o.reason.message : String(o.reason);
          this.hooks.report(`cancel_future for request ${round[i]} failed: ${why}`);
        }
      });
    }
    this.draining = false; // in the same turn as the emptiness check: nothing can slip in between
  }
}
