/**
 * Execution order. Each model (and each sampling target) has its own queue; a model's
 * requests run strictly in seq_id order, one at a time, and a missing seq_id holds back
 * everything after it. Requests without a seq_id (e.g. unload_model) run after what is already
 * queued. Queues are independent: a model waiting for a gap, or one with a long backlog,
 * never delays another model's bookkeeping; the engine process itself serialises compute.
 */
import { BadRequestError, RequestFailure, classifyFailure, type FailureCategory } from './errors.js';
import { EngineUtilisation } from './engine-utilisation.js';
import type { FutureRegistry, QueueStatus } from './futures.js';

export interface QueuedRequest {
  requestId: string;
  /** null: not ordered, runs after everything already queued. */
  seqId: number | null;
  kind: string;
  /** Does the work; the resolved value is the future's JSON result. */
  execute(): Promise<unknown>;
  /**
   * Optional: completes the future itself (e.g. to commit a record in the same transaction).
   * If it throws, the future fails instead.
   */
  finish?(requestId: string, result: unknown): void | Promise<void>;
  /** A placeholder for a refused request's seq_id: no future, nothing to run. */
  skipped?: boolean;
}

interface Queue {
  key: string;
  /** Ordered queues: the seq_id that runs next. */
  nextSeq: number;
  ordered: boolean;
  waiting: Map<number, QueuedRequest>;
  unordered: QueuedRequest[];
  running: QueuedRequest | null;
  /** When set, new and waiting requests fail with this message. */
  closedReason: { message: string; category: FailureCategory } | null;
}

export interface ModelQueuesOptions {
  futures: FutureRegistry;
  /** Calls waiting in the engine process, for progress messages. */
  engineBacklog?: () => number;
  log?: (line: string) => void;
  clock?: () => number;
}

/** A request waiting or running in a queue, for the dashboard's queue view. */
export interface QueuedView {
  requestId: string;
  queueKey: string;
  kind: string;
  seqId: number | null;
  running: boolean;
}

export class ModelQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly where = new Map<string, string>();
  private readonly futures: FutureRegistry;
  private readonly engineBacklog: () => number;
  private readonly log: (line: string) => void;
  private readonly idleWaiters = new Set<() => void>();
  /** Share of recent time some request was running. */
  readonly utilisation: EngineUtilisation;

  constructor(opts: ModelQueuesOptions) {
    this.utilisation = new EngineUtilisation(opts.clock);
    this.futures = opts.futures;
    this.engineBacklog = opts.engineBacklog ?? (() => 0);
    this.log = opts.log ?? (() => {});
    this.futures.setStatusProvider((id) => this.status(id));
  }

  /** Creates the queue if needed. Ordered queues start at `firstSeq`. */
  open(key: string, opts: { ordered: boolean; firstSeq?: number }): void {
    if (this.queues.has(key)) return;
    this.queues.set(key, {
      key,
      nextSeq: opts.firstSeq ?? 1,
      ordered: opts.ordered,
      waiting: new Map(),
      unordered: [],
      running: null,
      closedReason: null,
    });
  }

  has(key: string): boolean {
    return this.queues.has(key);
  }

  /** The seq_id a model runs next, or null if the queue is unknown or unordered. */
  nextSeq(key: string): number | null {
    const q = this.queues.get(key);
    return q && q.ordered ? q.nextSeq : null;
  }

  /**
   * Rejects (before any future row exists) a seq_id that can never run: already passed, or
   * already waiting under another request.
   */
  checkAcceptable(key: string, seqId: number | null): void {
    const q = this.queues.get(key);
    if (!q || !q.ordered || seqId === null) return;
    if (seqId < q.nextSeq) {
      throw new BadRequestError(
        `seq_id ${seqId} is behind ${key}: requests up to seq_id ${q.nextSeq - 1} were already accepted; ` +
          `the next expected seq_id is ${q.nextSeq}`,
      );
    }
    if (q.waiting.has(seqId)) {
      throw new BadRequestError(`seq_id ${seqId} of ${key} is already queued under another request`);
    }
  }

  /**
   * Marks a seq_id as used by a request that was refused at submission (HTTP 4xx), so the
   * requests after it do not wait forever for a seq_id that will never come. Does nothing if
   * the seq_id is already passed or taken.
   */
  skip(key: string, seqId: number): void {
    const q = this.queues.get(key);
    if (!q || !q.ordered || seqId < q.nextSeq || q.waiting.has(seqId)) return;
    q.waiting.set(seqId, { requestId: '', seqId, kind: 'skipped', execute: async () => null, skipped: true });
    this.pump(q);
  }

  /** Queues an acknowledged request; its future row must already exist. */
  enqueue(key: string, req: QueuedRequest): void {
    const q = this.queues.get(key);
    if (!q) throw new Error(`no queue ${key}`);
    if (q.closedReason) {
      this.futures.fail(req.requestId, q.closedReason.message, q.closedReason.category);
      return;
    }
    this.where.set(req.requestId, key);
    if (q.ordered && req.seqId !== null) q.waiting.set(req.seqId, req);
    else q.unordered.push(req);
    this.pump(q);
  }

  /**
   * Stops a queue: waiting requests fail with `message`, later ones too. The running
   * request (if any) finishes normally.
   */
  close(key: string, message: string, category: FailureCategory = 'user'): void {
    const q = this.queues.get(key);
    if (!q) return;
    q.closedReason = { message, category };
    const pending = [...q.waiting.values(), ...q.unordered].filter((r) => !r.skipped);
    q.waiting.clear();
    q.unordered = [];
    for (const req of pending) {
      this.where.delete(req.requestId);
      this.futures.fail(req.requestId, message, category);
    }
    if (!q.running) this.queues.delete(key);
  }

  /**
   * Fails every request waiting in an ordered (model) queue, leaving the queues open: their
   * seq_ids stay used, so the requests after them run. For when the state they were queued
   * against is gone (the engine restarted). Running requests and unordered queues are left alone.
   */
  failWaitingOrdered(message: string, category: FailureCategory): number {
    let failed = 0;
    for (const q of this.queues.values()) {
      if (!q.ordered) continue;
      for (const [seq, req] of q.waiting) {
        if (req.skipped) continue;
        q.waiting.set(seq, { requestId: '', seqId: seq, kind: 'skipped', execute: async () => null, skipped: true });
        this.where.delete(req.requestId);
        this.futures.fail(req.requestId, message, category);
        failed++;
      }
    }
    return failed;
  }

  /** Removes a queued (not yet running) request; returns whether it was found. */
  cancel(requestId: string, message: string): boolean {
    const key = this.where.get(requestId);
    const q = key ? this.queues.get(key) : undefined;
    if (!q || q.running?.requestId === requestId) return false;
    let found = false;
    for (const [seq, req] of q.waiting) {
      if (req.requestId === requestId) {
        // An ordered request keeps its slot: the seq_id still counts as used, so later ones run.
        q.waiting.set(seq, { ...req, execute: () => Promise.reject(new RequestFailure(message, 'user')) });
        found = true;
      }
    }
    const idx = q.unordered.findIndex((r) => r.requestId === requestId);
    if (idx >= 0) {
      q.unordered.splice(idx, 1);
      this.where.delete(requestId);
      found = true;
    }
    if (found) this.futures.fail(requestId, message, 'user');
    return found;
  }

  status(requestId: string): QueueStatus | null {
    const key = this.where.get(requestId);
    const q = key ? this.queues.get(key) : undefined;
    if (!q) return null;
    if (q.running?.requestId === requestId) {
      const backlog = this.engineBacklog();
      return {
        queue_state: 'active',
        reason: backlog > 1 ? `running (engine has ${backlog} calls queued)` : 'running',
      };
    }
    for (const [seq, req] of q.waiting) {
      if (req.requestId !== requestId) continue;
      if (seq > q.nextSeq && !q.waiting.has(q.nextSeq)) {
        return { queue_state: 'active', reason: `waiting for seq_id ${q.nextSeq} of ${q.key} (requests run in seq_id order)` };
      }
      const ahead = [...q.waiting.entries()].filter(([s, r]) => s < seq && !r.skipped).length + (q.running ? 1 : 0);
      return { queue_state: 'active', reason: `${ahead} request${ahead === 1 ? '' : 's'} ahead on ${q.key}` };
    }
    const idx = q.unordered.findIndex((r) => r.requestId === requestId);
    if (idx >= 0) {
      const ahead = idx + q.waiting.size + (q.running ? 1 : 0);
      return { queue_state: 'active', reason: `${ahead} request${ahead === 1 ? '' : 's'} ahead on ${q.key}` };
    }
    return null;
  }

  /** Number of requests queued or running, over all queues. */
  get size(): number {
    let n = 0;
    for (const q of this.queues.values()) {
      n += [...q.waiting.values()].filter((r) => !r.skipped).length + q.unordered.length + (q.running ? 1 : 0);
    }
    return n;
  }

  /** Every request queued or running, over all queues (running first in each queue). */
  list(): QueuedView[] {
    const out: QueuedView[] = [];
    for (const q of this.queues.values()) {
      const view = (r: QueuedRequest, running: boolean): QueuedView => ({ requestId: r.requestId, queueKey: q.key, kind: r.kind, seqId: r.seqId, running });
      if (q.running) out.push(view(q.running, true));
      const waiting = [...q.waiting.entries()].filter(([, r]) => !r.skipped).sort(([a], [b]) => a - b);
      for (const [, r] of waiting) out.push(view(r, false));
      for (const r of q.unordered) out.push(view(r, false));
    }
    return out;
  }

  /** Resolves once nothing is running (queued requests waiting on a gap do not count). */
  whenIdle(): Promise<void> {
    if (![...this.queues.values()].some((q) => q.running)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  private takeNext(q: Queue): QueuedRequest | null {
    if (q.ordered) {
      for (;;) {
        const next = q.waiting.get(q.nextSeq);
        if (!next) break;
        q.waiting.delete(q.nextSeq);
        q.nextSeq++;
        if (!next.skipped) return next;
      }
    }
    return q.unordered.shift() ?? null;
  }

  private pump(q: Queue): void {
    if (q.running) return;
    const req = this.takeNext(q);
    if (!req) {
      // An unordered queue (a sampling target) holds no state between requests: one per
      // sampling session ever used would otherwise stay in memory for good.
      if (q.closedReason || !q.ordered) this.queues.delete(q.key);
      this.notifyIdle();
      return;
    }
    q.running = req;
    // Started on the next turn of the event loop, after the response being written now (the
    // acknowledgement of a submit, or the result that freed the queue) has reached the socket:
    // an engine call that starts first takes the cores that response still needs.
    setImmediate(() => void this.run(q, req).catch((err) => this.log(`queue ${q.key} stopped: ${String(err)}`)));
  }

  private async run(q: Queue, req: QueuedRequest): Promise<void> {
    this.utilisation.begin();
    try {
      this.futures.markRunning(req.requestId);
      const result = await req.execute();
      if (req.finish) await req.finish(req.requestId, result);
      else this.futures.complete(req.requestId, result);
    } catch (err) {
      const { message, category } = classifyFailure(err);
      if (category === 'server') this.log(`${req.kind} ${req.requestId} failed: ${err instanceof Error ? err.stack : err}`);
      try {
        this.futures.fail(req.requestId, message, category);
      } catch (storeErr) {
        this.log(`could not record failure of ${req.requestId}: ${String(storeErr)}`);
      }
    } finally {
      this.utilisation.end();
      this.where.delete(req.requestId);
      q.running = null;
      this.pump(q);
    }
  }

  private notifyIdle(): void {
    if ([...this.queues.values()].some((q) => q.running)) return;
    for (const fn of [...this.idleWaiters]) fn();
    this.idleWaiters.clear();
  }
}
