// APIFuture: the handle every client call returns. It can be awaited, awaited with a timeout, or
// waited on synchronously with result(), which blocks the calling thread while the network thread
// keeps working (see runtime/runtime.ts for how blocking drains the message port).
import { TimeoutError, TinkerError } from './errors.js';

/** Lets a pending future wait synchronously for news from wherever its outcome comes from. */
export interface Blocker {
  /** Dispatch whatever has already arrived, without waiting. */
  poll(): void;
  /** Dispatch what has arrived; if nothing had, sleep until something arrives or `timeoutMs` passes. */
  waitForProgress(timeoutMs: number): void;
  /** Set when this blocker cannot block (e.g. the network runs on the calling thread). */
  readonly unsupportedReason?: string | undefined;
}

/** What an APIFuture is made of; the runtime settles cells, combinators build on them. */
interface FutureImpl<T> {
  requestId(): string | undefined;
  done(): boolean;
  /** Wait until `deadline` (ms since epoch, Infinity = forever); throws DeadlineExceeded. */
  waitSync(deadline: number): T;
  promise: Promise<T>;
}

class DeadlineExceeded extends Error {}

const noop = () => {};

/** A settable outcome, the leaf of every future tree. */
export class FutureCell<T> implements FutureImpl<T> {
  private state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  private value: T | undefined;
  private error: unknown;
  private knownRequestId: string | undefined;
  private settle!: { resolve: (v: T) => void; reject: (e: unknown) => void };
  readonly promise: Promise<T>;

  constructor(private readonly blocker?: Blocker) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A rejection that is only observed through result() must not count as unhandled.
    this.promise.catch(noop);
  }

  get pending(): boolean {
    return this.state === 'pending';
  }

  resolve(value: T): void {
    if (this.state !== 'pending') return;
    this.state = 'fulfilled';
    this.value = value;
    this.settle.resolve(value);
  }

  reject(error: unknown): void {
    if (this.state !== 'pending') return;
    this.state = 'rejected';
    this.error = error;
    this.settle.reject(error);
  }

  setRequestId(id: string | undefined): void {
    this.knownRequestId = id;
  }

  requestId(): string | undefined {
    return this.knownRequestId;
  }

  done(): boolean {
    if (this.state === 'pending') this.blocker?.poll();
    return this.state !== 'pending';
  }

  waitSync(deadline: number): T {
    while (this.state === 'pending') {
      if (!this.blocker) {
        throw new TinkerError('This future cannot be waited on synchronously: nothing can settle it while the thread is blocked. Use `await` instead.');
      }
      if (this.blocker.unsupportedReason) {
        this.blocker.poll();
        if (this.state !== 'pending') break;
        throw new TinkerError(this.blocker.unsupportedReason);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.blocker.poll();
        if (this.state !== 'pending') break;
        throw new DeadlineExceeded();
      }
      this.blocker.waitForProgress(remaining);
    }
    if (this.state === 'rejected') throw this.error;
    return this.value as T;
  }
}

/** Runs `fn` at most once, remembering its value or its exception. */
function once<A, B>(fn: (a: A) => B): (a: A) => B {
  let memo: { ok: true; v: B } | { ok: false; e: unknown } | undefined;
  return (a: A) => {
    if (!memo) {
      try {
        memo = { ok: true, v: fn(a) };
      } catch (e) {
        memo = { ok: false, e };
      }
    }
    if (memo.ok) return memo.v;
    throw memo.e;
  };
}

function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(noop);
  return p;
}

export class APIFuture<T> implements PromiseLike<T> {
  /** @internal */
  private readonly impl: FutureImpl<T>;

  /** @internal Use the runtime, `APIFuture.resolved`, or the combinators to make futures. */
  constructor(impl: FutureImpl<T>) {
    this.impl = impl;
  }

  /** The server's request_id once the server has accepted the request (undefined before, and for local futures). */
  get requestId(): string | undefined {
    return this.impl.requestId();
  }

  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.impl.promise.then(onfulfilled, onrejected);
  }

  /** Waits without blocking; rejects with TimeoutError after `timeoutMs`, leaving the future valid. */
  resultAsync(timeoutMs?: number): Promise<T> {
    if (timeoutMs === undefined) return this.impl.promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(timeoutMs, this.requestId)), Math.max(0, timeoutMs));
    });
    return Promise.race([this.impl.promise, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Blocks the calling thread until the result is there (or `timeoutMs` passes: TimeoutError, the
   * future stays valid). The network keeps running on its own thread meanwhile.
   */
  result(timeoutMs?: number): T {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + Math.max(0, timeoutMs);
    try {
      return this.impl.waitSync(deadline);
    } catch (e) {
      if (e instanceof DeadlineExceeded) throw timeoutError(timeoutMs ?? 0, this.requestId);
      throw e;
    }
  }

  /** The underlying promise. */
  future(): Promise<T> {
    return this.impl.promise;
  }

  /** True once the outcome (value or error) is known. */
  done(): boolean {
    return this.impl.done();
  }

  /** A future of `fn(value)`; `fn` runs once, whichever way the result is waited for. */
  map<U>(fn: (v: T) => U): APIFuture<U> {
    const source = this.impl;
    const apply = once(fn);
    return new APIFuture<U>({
      requestId: () => source.requestId(),
      done: () => source.done(),
      waitSync: (deadline) => apply(source.waitSync(deadline)),
      promise: handled(source.promise.then(apply)),
    });
  }

  /** A future of the future `fn(value)` returns; `fn` runs once. */
  chain<U>(fn: (v: T) => APIFuture<U>): APIFuture<U> {
    const source = this.impl;
    const next = once(fn);
    let inner: APIFuture<U> | undefined;
    const step = (v: T) => (inner = next(v));
    return new APIFuture<U>({
      requestId: () => inner?.requestId ?? source.requestId(),
      done: () => (inner ?? (source.done() ? tryStep(source, step) : undefined))?.done() ?? false,
      waitSync: (deadline) => step(source.waitSync(deadline)).impl.waitSync(deadline),
      promise: handled(source.promise.then((v) => step(v).impl.promise)),
    });
  }

  /** A future of all values, in order; rejects with the first error. */
  static all<T>(fs: APIFuture<T>[]): APIFuture<T[]> {
    const impls = fs.map((f) => f.impl);
    return new APIFuture<T[]>({
      requestId: () => undefined,
      done: () => impls.every((f) => f.done()),
      waitSync: (deadline) => impls.map((f) => f.waitSync(deadline)),
      promise: handled(Promise.all(impls.map((f) => f.promise))),
    });
  }

  static resolved<T>(v: T): APIFuture<T> {
    const cell = new FutureCell<T>();
    cell.resolve(v);
    return new APIFuture(cell);
  }

  static rejected<T = never>(e: unknown): APIFuture<T> {
    const cell = new FutureCell<T>();
    cell.reject(e);
    return new APIFuture(cell);
  }

  /** @internal Wraps a cell the runtime settles. */
  static fromCell<T>(cell: FutureCell<T>): APIFuture<T> {
    return new APIFuture(cell);
  }
}

// chain().done() on a settled source: evaluate the step now (it would run on the next tick anyway).
function tryStep<T, U>(source: FutureImpl<T>, step: (v: T) => APIFuture<U>): APIFuture<U> | undefined {
  try {
    return step(source.waitSync(Date.now()));
  } catch {
    return APIFuture.resolved(undefined as U); // a failed source or step is "done"
  }
}

function timeoutError(timeoutMs: number, requestId: string | undefined): TimeoutError {
  const what = requestId ? `request ${requestId}` : 'the result';
  return new TimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what}`, { timeoutMs });
}
