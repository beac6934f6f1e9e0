/**
 * Futures: every mutating call is acknowledged with a request id as soon as its row is
 * committed, executes later, and is fetched with `retrieve_future`. This file owns the
 * future rows' lifecycle (pending → running → done | failed), resubmission dedup on
 * (queue, seq_id), and the in-memory wake-ups that let long polls return the moment a
 * result lands.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { QueueState } from '@tinker-ts/protocol';
import { BadRequestError, type FailureCategory } from './errors.js';
import type { FutureRow, NewFuture, Store } from './store.js';
import { encodeResultProtobuf, PROTOBUF_RESULT_KINDS } from './wire-codec.js';

/** Why a future has not finished yet, for `try_again` answers. */
export interface QueueStatus {
  queue_state: QueueState;
  reason: string;
}

export type QueueStatusProvider = (requestId: string) => QueueStatus | null;

/** A stable fingerprint of a request: same kind and same payload → same hash. */
export function requestHash(kind: string, payload: unknown): string {
  return createHash('sha256').update(kind).update('\0').update(stableJson(payload)).digest('hex');
}

/** JSON with object keys sorted, so field order never changes a hash. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

/** Deterministic id for an ordered request (as hosted Tinker: `<model_id>:<seq_id>`), else random. */
export function requestIdFor(queueKey: string | null, seqId: number | null): string {
  if (queueKey !== null && seqId !== null) return `${queueKey}:${seqId}`;
  return `req-${randomUUID()}`;
}

export class FutureRegistry {
  private readonly waiters = new Map<string, Set<() => void>>();
  private statusProvider: QueueStatusProvider = () => null;

  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  setStatusProvider(provider: QueueStatusProvider): void {
    this.statusProvider = provider;
  }

  /**
   * Records a new future, or returns the original one when the same request is resubmitted
   * (same queue and seq_id, same kind and payload). A different payload under a used seq_id
   * is a client bug and is rejected.
   */
  submit(f: NewFuture): { row: FutureRow; created: boolean } {
    const existing =
      f.queue_key !== null && f.seq_id !== null
        ? this.store.getFutureBySeq(f.queue_key, f.seq_id)
        : this.store.getFuture(f.request_id);
    if (existing) {
      if (existing.kind === f.kind && existing.request_hash === f.request_hash && existing.owner === f.owner) {
        return { row: existing, created: false };
      }
      const where = f.seq_id !== null ? `seq_id ${f.seq_id} of ${f.queue_key}` : `request ${f.request_id}`;
      throw new BadRequestError(
        `${where} was already used by a different request (${existing.kind}, request_id ${existing.request_id}); ` +
          'a resubmission must repeat the original payload exactly, and new requests need a new seq_id',
        { request_id: existing.request_id },
      );
    }
    this.store.insertFuture(f, this.clock());
    return { row: this.store.getFuture(f.request_id)!, created: true };
  }

  get(requestId: string): FutureRow | null {
    return this.store.getFuture(requestId);
  }

  status(requestId: string): QueueStatus | null {
    return this.statusProvider(requestId);
  }

  markRunning(requestId: string): void {
    this.store.markRunning(requestId, this.clock());
  }

  /**
   * Stores the result: protobuf bytes for the kinds that have a protobuf form, JSON otherwise.
   * `extra` runs in the same transaction (e.g. a checkpoint record).
   */
  complete(requestId: string, result: unknown, extra?: () => void): boolean {
    const kind = this.store.getFuture(requestId)?.kind ?? '';
    const stored = PROTOBUF_RESULT_KINDS.has(kind)
      ? { bytes: encodeResultProtobuf(kind, result) }
      : { json: JSON.stringify(result ?? null) };
    const done = this.store.transaction(() => {
      extra?.();
      return this.store.completeFuture(requestId, stored, this.clock());
    });
    this.wake(requestId);
    return done;
  }

  fail(requestId: string, message: string, category: FailureCategory): boolean {
    const done = this.store.failFuture(requestId, message, category, this.clock());
    this.wake(requestId);
    return done;
  }

  /** Resolves when the future finishes, after `timeoutMs`, or when `signal` aborts. */
  async waitUntilFinished(requestId: string, timeoutMs: number, signal?: AbortSignal): Promise<FutureRow | null> {
    const isFinished = (row: FutureRow | null) => row === null || row.state === 'done' || row.state === 'failed';
    const first = this.store.getFuture(requestId);
    if (isFinished(first) || timeoutMs <= 0 || signal?.aborted) return first;
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(requestId);
      if (!set) {
        set = new Set();
        this.waiters.set(requestId, set);
      }
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        const s = this.waiters.get(requestId);
        s?.delete(finish);
        if (s && s.size === 0) this.waiters.delete(requestId);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      set.add(finish);
    });
    return this.store.getFuture(requestId);
  }

  private wake(requestId: string): void {
    const set = this.waiters.get(requestId);
    if (!set) return;
    for (const fn of [...set]) fn();
  }
}
