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
import { PollLog } from './poll-log.js';
import type { Store } from './store.js';
import type { FutureRow, NewFuture } from './store/rows.js';
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

/** Key of a (queue, seq_id) pair in the in-memory index. */
function seqKey(queueKey: string, seqId: number): string {
  return `${queueKey}\u0000${seqId}`;
}

type FinishListener = (row: FutureRow | null) => void;

/** How often outcomes the database refused (e.g. a full disk) are written again. */
const UNWRITTEN_RETRY_MS = 1000;

/**
 * The future rows' lifecycle. SQLite holds every row, but the rows of unfinished futures are
 * also kept in memory: the request path (submit, dedup, start, finish, long polls) then never
 * reads them back from the database, and "running" is recorded only in memory — a row goes
 * pending → done | failed in SQLite, one commit at each end, since after a restart a pending and
 * a running future are failed alike.
 */
export class FutureRegistry {
  /** Unfinished futures by request id (pending or running), mirroring their SQLite rows. */
  private readonly live = new Map<string, FutureRow>();
  /** The same rows by (queue, seq_id), for resubmission dedup. */
  private readonly liveBySeq = new Map<string, FutureRow>();
  /**
   * Finished futures whose final row the database refused (a full disk, an I/O error): the
   * outcome is served from here and written again every UNWRITTEN_RETRY_MS until it lands, so
   * no future stays unfinished. If the process dies first, the row is still pending on disk
   * and the restart fails it with category "server", like any request in flight.
   */
  private readonly unwritten = new Map<string, FutureRow>();
  private readonly unwrittenBySeq = new Map<string, FutureRow>();
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Map<string, Set<FinishListener>>();
  /** Per queue (a model or sampling session): how many of its futures finished, and who waits for the next. */
  private readonly queueFinishes = new Map<string, { count: number; waiting: Set<() => void> }>();
  private statusProvider: QueueStatusProvider = () => null;
  /** When clients polled for each request (for session traces). */
  readonly polls = new PollLog();

  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
    private readonly log: (line: string) => void = () => {},
  ) {}

  setStatusProvider(provider: QueueStatusProvider): void {
    this.statusProvider = provider;
  }

  /**
   * Records a new future, or returns the original one when the same request is resubmitted
   * (same queue and seq_id, same kind and payload). A different payload under a used seq_id
   * is a client bug and is rejected. Inside a store transaction that rolls back, the new row
   * leaves memory with it.
   */
  submit(f: NewFuture): { row: FutureRow; created: boolean } {
    const existing = f.queue_key !== null && f.seq_id !== null ? this.getBySeq(f.queue_key, f.seq_id) : this.get(f.request_id);
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
    const now = this.clock();
    this.store.futures.insert(f, now);
    const row: FutureRow = {
      request_id: f.request_id,
      owner: f.owner,
      model_id: f.model_id,
      queue_key: f.queue_key,
      seq_id: f.seq_id,
      kind: f.kind,
      request_hash: f.request_hash,
      state: 'pending',
      result_json: null,
      result_bytes: null,
      error: null,
      category: null,
      created_at: now,
      started_at: null,
      finished_at: null,
      ack_json: f.ack_json ?? null,
    };
    this.remember(row);
    this.store.onRollback(() => this.forget(row));
    return { row, created: true };
  }

  get(requestId: string): FutureRow | null {
    return this.live.get(requestId) ?? this.unwritten.get(requestId) ?? this.store.futures.get(requestId);
  }

  /** The future submitted under (queue, seq_id), if any. */
  getBySeq(queueKey: string, seqId: number): FutureRow | null {
    const key = seqKey(queueKey, seqId);
    return this.liveBySeq.get(key) ?? this.unwrittenBySeq.get(key) ?? this.store.futures.getBySeq(queueKey, seqId);
  }

  /** Finished futures whose row is not yet in the database. */
  get unwrittenCount(): number {
    return this.unwritten.size;
  }

  status(requestId: string): QueueStatus | null {
    return this.statusProvider(requestId);
  }

  /** The engine started on it (kept in memory only: see the class comment). */
  markRunning(requestId: string): void {
    const row = this.live.get(requestId);
    if (row && row.state === 'pending') this.replace({ ...row, state: 'running', started_at: this.clock() });
  }

  /**
   * Stores the result: protobuf bytes for the kinds that have a protobuf form, JSON otherwise.
   * `extra` runs in the same transaction (e.g. a checkpoint record); if that transaction cannot
   * be written, this throws and nothing is recorded, so the caller can undo what the record
   * describes and fail the future. Without `extra` a refused write keeps the result in memory
   * (see `unwritten`): the work was done, and saying otherwise would invite a second run.
   */
  complete(requestId: string, result: unknown, extra?: () => void): boolean {
    const row = this.get(requestId);
    const kind = row?.kind ?? '';
    const bytes = PROTOBUF_RESULT_KINDS.has(kind) ? encodeResultProtobuf(kind, result) : null;
    const json = bytes ? null : JSON.stringify(result ?? null);
    const now = this.clock();
    const startedAt = this.live.get(requestId)?.started_at ?? null;
    const write = () => this.store.futures.complete(requestId, bytes ? { bytes } : { json: json! }, now, startedAt);
    const finished = (r: FutureRow): FutureRow => ({ ...r, state: 'done', result_json: json, result_bytes: bytes, finished_at: now });
    if (extra) {
      const done = this.store.transaction(() => {
        extra();
        return write();
      });
      this.finish(requestId, done && row ? finished(row) : null);
      return done;
    }
    return this.record(requestId, write, finished);
  }

  /** Never throws: a failure the database refuses is kept in memory like a result (see complete). */
  fail(requestId: string, message: string, category: FailureCategory): boolean {
    const now = this.clock();
    return this.record(
      requestId,
      () => this.store.futures.fail(requestId, message, category, now, this.live.get(requestId)?.started_at ?? null),
      (r) => ({ ...r, state: 'failed', error: message, category, finished_at: now }),
    );
  }

  /** Writes a final row; if the database refuses, an unfinished future finishes in memory. */
  private record(requestId: string, write: () => boolean, finished: (row: FutureRow) => FutureRow): boolean {
    const row = this.live.get(requestId);
    try {
      const done = write();
      this.finish(requestId, done && row ? finished(row) : null);
      return done;
    } catch (err) {
      // Not unfinished here: it already finished (or never existed), so there is nothing to keep.
      if (!row) return false;
      const final = finished(row);
      this.log(`could not record the outcome of ${requestId} (${String(err)}); serving it from memory and writing it again shortly`);
      this.finish(requestId, final);
      this.keepUnwritten(final);
      return true;
    }
  }

  private keepUnwritten(row: FutureRow): void {
    this.unwritten.set(row.request_id, row);
    if (row.queue_key !== null && row.seq_id !== null) this.unwrittenBySeq.set(seqKey(row.queue_key, row.seq_id), row);
    this.retryTimer ??= setTimeout(() => this.writeUnwritten(), UNWRITTEN_RETRY_MS);
    this.retryTimer.unref();
  }

  /** Tries again to write every outcome kept in memory; returns how many are still unwritten. */
  writeUnwritten(): number {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const row of [...this.unwritten.values()]) {
      try {
        if (row.state === 'done') {
          const result = row.result_bytes ? { bytes: row.result_bytes } : { json: row.result_json ?? 'null' };
          this.store.futures.complete(row.request_id, result, row.finished_at!, row.started_at);
        } else {
          this.store.futures.fail(row.request_id, row.error ?? 'request failed', row.category ?? 'unknown', row.finished_at!, row.started_at);
        }
      } catch {
        break;
      }
      this.unwritten.delete(row.request_id);
      if (row.queue_key !== null && row.seq_id !== null) this.unwrittenBySeq.delete(seqKey(row.queue_key, row.seq_id));
    }
    if (this.unwritten.size > 0) {
      this.retryTimer = setTimeout(() => this.writeUnwritten(), UNWRITTEN_RETRY_MS);
      this.retryTimer.unref();
    }
    return this.unwritten.size;
  }

  /** Stops retrying (the database is closing): one last attempt, then what is left is lost to a restart. */
  close(): void {
    if (this.unwritten.size > 0 && this.writeUnwritten() > 0) {
      this.log(`${this.unwritten.size} finished request(s) could not be written before closing; a restart fails them`);
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Resolves when the future finishes, after `timeoutMs`, or when `signal` aborts. */
  async waitUntilFinished(requestId: string, timeoutMs: number, signal?: AbortSignal): Promise<FutureRow | null> {
    const isFinished = (row: FutureRow | null) => row === null || row.state === 'done' || row.state === 'failed';
    const first = this.get(requestId);
    if (isFinished(first) || timeoutMs <= 0 || signal?.aborted) return first;
    const finished = await new Promise<FutureRow | null>((resolve) => {
      let set = this.waiters.get(requestId);
      if (!set) {
        set = new Set();
        this.waiters.set(requestId, set);
      }
      const done: FinishListener = (row) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const s = this.waiters.get(requestId);
        s?.delete(done);
        if (s && s.size === 0) this.waiters.delete(requestId);
        resolve(row);
      };
      const onAbort = () => done(null);
      const timer = setTimeout(() => done(null), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(done);
    });
    return finished ?? this.get(requestId);
  }

  /** How many futures of `queueKey` finished in this process so far: pass it to waitForQueueFinish. */
  queueFinishCount(queueKey: string): number {
    return this.queueFinishes.get(queueKey)?.count ?? 0;
  }

  /**
   * Resolves once a future of `queueKey` finishes after `seen` finishes were counted (at once if
   * one already has), after `timeoutMs`, or when `signal` aborts.
   */
  async waitForQueueFinish(queueKey: string, seen: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.queueFinishCount(queueKey) !== seen || timeoutMs <= 0 || signal?.aborted) return;
    let entry = this.queueFinishes.get(queueKey);
    if (!entry) {
      entry = { count: 0, waiting: new Set() };
      this.queueFinishes.set(queueKey, entry);
    }
    const waiting = entry.waiting;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      waiting.add(done);
    });
    // Callers read the count right before waiting, so an entry nobody waits on can go.
    if (waiting.size === 0 && this.queueFinishes.get(queueKey) === entry) this.queueFinishes.delete(queueKey);
  }

  private noteQueueFinish(queueKey: string): void {
    const entry = this.queueFinishes.get(queueKey);
    // Counted only while someone has waited on the queue: an unwatched queue costs no memory.
    if (!entry) return;
    entry.count++;
    for (const fn of [...entry.waiting]) fn();
  }

  private remember(row: FutureRow): void {
    this.live.set(row.request_id, row);
    if (row.queue_key !== null && row.seq_id !== null) this.liveBySeq.set(seqKey(row.queue_key, row.seq_id), row);
  }

  private replace(row: FutureRow): void {
    if (this.live.has(row.request_id)) this.remember(row);
  }

  private forget(row: FutureRow): void {
    this.live.delete(row.request_id);
    if (row.queue_key !== null && row.seq_id !== null) this.liveBySeq.delete(seqKey(row.queue_key, row.seq_id));
  }

  /**
   * The future left the unfinished set: drop it from memory and hand the finished row (null
   * when it had already finished before, e.g. cancelled) to the long polls waiting on it.
   */
  private finish(requestId: string, finished: FutureRow | null): void {
    const row = this.live.get(requestId);
    if (row) this.forget(row);
    const queueKey = row?.queue_key ?? finished?.queue_key ?? null;
    if (queueKey !== null) this.noteQueueFinish(queueKey);
    const set = this.waiters.get(requestId);
    if (!set) return;
    for (const fn of [...set]) fn(finished);
  }
}
