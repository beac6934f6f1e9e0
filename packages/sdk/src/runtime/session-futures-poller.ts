// The session-wide sample poll (client/config `sample_use_retrieve_futures`): one long poll of
// retrieve_futures per sampling session (per client of it) reports which samples finished; each
// sample then fetches only its own payload with retrieve_future, instead of every sample
// long-polling on its own. Mirrors the official SDK's lib/session_futures_poller.py, except
// that it polls only while a sample waits, and that a server that cannot serve the poll (4xx)
// sends the waiting samples back to polling each request, rather than retrying forever.
import type { FutureFailed, FutureFinished } from '@tinker-ts/protocol';
import { APIConnectionError } from '../errors.js';
import type { HttpClient } from './http.js';
import { parseJson } from './http.js';
import { sleep } from './retry.js';

/** What the poll reports for a request; `unknown` = the poll is unavailable, poll the request itself. */
export type SampleCompletion = FutureFinished | FutureFailed | { state: 'unknown'; request_id: string };

export interface SessionFuturesTarget {
  samplingSessionId: string;
  /** seq_id // 1e9: 0 for the creating client, client_counter for a joined one. */
  clonedSamplerId: number;
}

export interface SessionFuturesPollerHooks {
  http: HttpClient;
  /** HTTP timeout of one poll; the server holds it up to its long-poll time (~20–30 s). */
  pollTimeoutMs: number;
  /** Pause after a failed poll before the next. */
  retryDelayMs: number;
  /** Stops the poller for good (the client is closing). */
  closing: AbortSignal;
  log(msg: string): void;
}

/** Completions kept for samples nobody waits for yet (a poll may answer before the submit does). */
const MAX_UNCLAIMED = 10_000;

export class SessionFuturesPoller {
  private cursor = 0;
  private readonly waiting = new Map<string, Set<(c: SampleCompletion) => void>>();
  private readonly unclaimed = new Map<string, SampleCompletion>();
  private running = false;
  /** Aborts the poll in flight when the last waiter leaves (its completions come again: the cursor did not move). */
  private idle: AbortController | undefined;
  /** The server refused the poll itself: every later wait falls back at once. */
  private unavailable = false;

  constructor(private readonly target: SessionFuturesTarget, private readonly hooks: SessionFuturesPollerHooks) {}

  /** Resolves once the poll reports `requestId` finished or failed (or says it cannot tell). */
  waitFor(requestId: string, signal: AbortSignal): Promise<SampleCompletion> {
    const known = this.unclaimed.get(requestId);
    if (known) {
      this.unclaimed.delete(requestId);
      return Promise.resolve(known);
    }
    if (this.unavailable) return Promise.resolve({ state: 'unknown', request_id: requestId });
    signal.throwIfAborted();
    return new Promise<SampleCompletion>((resolve, reject) => {
      let set = this.waiting.get(requestId);
      if (!set) this.waiting.set(requestId, (set = new Set()));
      const leave = () => {
        signal.removeEventListener('abort', onAbort);
        set!.delete(done);
        if (set!.size === 0) this.waiting.delete(requestId);
        if (this.waiting.size === 0) this.idle?.abort();
      };
      const done = (c: SampleCompletion) => {
        leave();
        resolve(c);
      };
      const onAbort = () => {
        leave();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      set.add(done);
      this.ensureRunning();
    });
  }

  private ensureRunning(): void {
    if (this.running || this.hooks.closing.aborted) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.waiting.size > 0 && !this.unavailable && !this.hooks.closing.aborted) this.ensureRunning();
    });
  }

  private async loop(): Promise<void> {
    const { http, closing } = this.hooks;
    while (this.waiting.size > 0 && !closing.aborted) {
      this.idle = new AbortController();
      const signal = AbortSignal.any([closing, this.idle.signal]);
      let status: number;
      let body: unknown;
      try {
        const res = await http.send({
          pool: 'polls',
          method: 'POST',
          path: 'retrieve_futures',
          body: {
            target: { type: 'sampling_session', sampling_session_id: this.target.samplingSessionId, cloned_sampler_id: this.target.clonedSamplerId },
            prev_cursor: this.cursor,
          },
          timeoutMs: this.hooks.pollTimeoutMs,
          signal,
        });
        status = res.status;
        body = status < 300 ? parseJson(res) : undefined;
      } catch (e) {
        if (signal.aborted) return;
        if (!(e instanceof APIConnectionError)) throw e;
        this.hooks.log(`retrieve_futures for ${this.describe()} failed: ${e.message}; polling again`);
        await sleep(this.hooks.retryDelayMs, closing).catch(() => {});
        continue;
      }
      if (status >= 300) {
        // 408/429/5xx: a busy or restarting server. Any other status: it does not serve the poll.
        if (status === 408 || status === 429 || status >= 500) {
          this.hooks.log(`retrieve_futures for ${this.describe()}: HTTP ${status}; polling again`);
          await sleep(this.hooks.retryDelayMs, closing).catch(() => {});
          continue;
        }
        this.hooks.log(`retrieve_futures for ${this.describe()}: HTTP ${status}; polling each sample instead`);
        this.giveUp();
        return;
      }
      this.deliver(body);
    }
  }

  private deliver(body: unknown): void {
    const res = body as { completions?: unknown; cursor?: unknown } | null;
    if (typeof res?.cursor === 'number' && Number.isFinite(res.cursor)) this.cursor = res.cursor;
    if (!Array.isArray(res?.completions)) return;
    for (const c of res.completions as Array<Record<string, unknown>>) {
      const requestId = c?.['request_id'];
      if (typeof requestId !== 'string') continue;
      const completion: SampleCompletion =
        c['state'] === 'failed'
          ? { state: 'failed', request_id: requestId }
          : {
            state: 'finished',
            request_id: requestId,
            response_payload_uncompressed_size: typeof c['response_payload_uncompressed_size'] === 'number' ? c['response_payload_uncompressed_size'] : null,
          };
      const set = this.waiting.get(requestId);
      if (set) {
        for (const fn of [...set]) fn(completion);
        continue;
      }
      this.unclaimed.set(requestId, completion);
      if (this.unclaimed.size > MAX_UNCLAIMED) this.unclaimed.delete(this.unclaimed.keys().next().value!);
    }
  }

  private giveUp(): void {
    this.unavailable = true;
    for (const [requestId, set] of [...this.waiting]) {
      for (const fn of [...set]) fn({ state: 'unknown', request_id: requestId });
    }
  }

  private describe(): string {
    const { samplingSessionId, clonedSamplerId } = this.target;
    return clonedSamplerId ? `sampling session ${samplingSessionId} (client ${clonedSamplerId})` : `sampling session ${samplingSessionId}`;
  }
}
