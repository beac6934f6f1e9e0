/**
 * When clients polled for each request: the first retrieve_future call, how many there were,
 * and when the result (or failure) was handed over. Kept in memory only, for session traces
 * (a restart forgets it, and the trace then shows no poll span); the oldest entries are
 * dropped beyond a fixed number.
 */
export interface PollRecord {
  firstPollAt: number;
  polls: number;
  /** When a poll returned the result or the failure; null while the client is still waiting. */
  deliveredAt: number | null;
}

const MAX_RECORDS = 200_000;

export class PollLog {
  private readonly records = new Map<string, PollRecord>();

  constructor(private readonly maxRecords = MAX_RECORDS) {}

  /** A retrieve_future call arrived for `requestId`. */
  polled(requestId: string, now: number): void {
    const r = this.records.get(requestId);
    if (r) {
      r.polls++;
      return;
    }
    this.records.set(requestId, { firstPollAt: now, polls: 1, deliveredAt: null });
    if (this.records.size > this.maxRecords) this.records.delete(this.records.keys().next().value!);
  }

  /** The poll that began at `requestId`'s last `polled` handed over the outcome at `now`. */
  delivered(requestId: string, now: number): void {
    const r = this.records.get(requestId);
    if (r && r.deliveredAt === null) r.deliveredAt = now;
  }

  get(requestId: string): PollRecord | null {
    return this.records.get(requestId) ?? null;
  }
}
