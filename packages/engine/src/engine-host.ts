/**
 * EngineHost: the Engine's methods as Promises, executed by one Engine in a child process so
 * that long native calls never block the caller's event loop and the engine's threads — its
 * JavaScript, its garbage collector and compiler threads, OpenBLAS's and the task pool's — can
 * all run at a lower priority than the caller's. A crash in native code ends the engine process,
 * not the caller. Calls queue in order; errors come back with their category (an EngineUserError
 * stays an EngineUserError).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Datum, ForwardBackwardOutput, SampleResponse } from '@tinker-ts/protocol';
import type { AdapterInfo, Engine, EngineMemoryInfo, EngineOptions, LoraConfigInput, OptimStepInput, SampleInput, SampleSource, StateInfo } from './engine.js';
import type { OptimizerKind } from './model-types.js';
import { EngineError, EngineUserError, type EngineErrorCategory } from './errors.js';
import type { LossProgram } from './loss-graph.js';
import type { SupportedModelInfo } from './model-registry.js';

/** Names of the Engine methods callable through the host. */
export type EngineMethod =
  | 'listModels' | 'hasModel' | 'createAdapter' | 'adapterInfo' | 'dropAdapter' | 'forwardBackward' | 'optimStep'
  | 'saveState' | 'loadState' | 'readStateInfo' | 'saveSamplerWeights' | 'sample' | 'releaseSamplerWeights' | 'memoryInfo'
  | 'tokenizerFiles';

/** An error crossing the process boundary: plain data, its category included. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  category: EngineErrorCategory;
}

/** Host → engine process: the options once, then calls. */
export type HostMessage = { type: 'init'; options: EngineHostOptions } | { type: 'call'; id: number; method: EngineMethod; args: unknown[] };

/** Engine process → host. */
export type ProcessMessage =
  | { type: 'ready'; coreName: string; computeThreads: number }
  | { type: 'failed'; error: SerializedError }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: SerializedError };

export interface EngineHostOptions extends Omit<EngineOptions, 'log'> {
  /**
   * Scheduling niceness (0–19) of the engine process: every one of its threads runs at it (on
   * Linux and macOS, started through `nice`), the caller's threads keep their own. A server gives
   * its engine a positive niceness so that on a machine whose cores the engine keeps busy the
   * request thread still runs the moment a request arrives. Default 0 (unchanged).
   */
  niceness?: number;
  /**
   * CPUs the engine process may run on (Linux, started through `taskset`); its compute threads
   * follow, one per CPU it may use. On a machine with few cores a server can keep one for its
   * request path this way: requests then never wait for a core behind engine threads, at the
   * price of engine speed. Default: every CPU.
   */
  cpus?: readonly number[];
}

/** An internal engine fault (not the caller's input), or the engine process ending. */
export class EngineWorkerError extends EngineError {}

function reviveError(e: SerializedError): Error {
  const err = e.category === 'user' ? new EngineUserError(e.message) : new EngineWorkerError(`${e.name}: ${e.message}`, e.category);
  if (e.stack) err.stack = e.stack;
  return err;
}

/** A system program such as `nice` or `taskset`, where there is one. */
function systemProgram(name: string): string | null {
  return [`/usr/bin/${name}`, `/bin/${name}`].find((p) => existsSync(p)) ?? null;
}

function checkCpus(cpus: readonly number[]): void {
  if (!Array.isArray(cpus) || cpus.length === 0 || !cpus.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new EngineUserError(`engine cpus must be a non-empty list of CPU numbers, got ${JSON.stringify(cpus)}`);
  }
  const count = os.cpus().length;
  const missing = cpus.filter((c) => c >= count);
  if (missing.length > 0) throw new EngineUserError(`engine cpus ${missing.join(',')} do not exist: this machine has CPUs 0-${count - 1}`);
}

/**
 * V8 flags of the engine process. `--single-threaded-gc`: its garbage collection runs on its own
 * JavaScript thread instead of V8's helper threads. Between engine calls those helpers (marking,
 * freeing the backing stores of large typed arrays) ran 1.5–6.5 ms at a time on whichever core was
 * free, so a request thread woken just then waited for a core, even with a core idle elsewhere.
 * Server bench, engine on every core: p99 added latency per operation 6.0–8.3 ms → 2.7–4.6 ms.
 * Training steps through EngineHost: 8.4M Llama 455 → 407 ms, a 60M one unchanged within noise.
 */
export const ENGINE_V8_FLAGS: readonly string[] = ['--single-threaded-gc'];

/**
 * The command line that starts the engine process: `[taskset -c CPUS] [nice -n N] node
 * [V8 flags] engine-process.js`. `nice` lowers every thread the process will start (Linux and
 * macOS); `taskset` (Linux) confines them all to the CPUs.
 */
function engineCommand(opts: EngineHostOptions, entry: string): string[] {
  const argv = [process.execPath, ...ENGINE_V8_FLAGS, entry];
  const nice = opts.niceness && process.platform !== 'win32' ? systemProgram('nice') : null;
  if (nice) argv.unshift(nice, '-n', String(opts.niceness));
  if (opts.cpus) {
    const taskset = process.platform === 'linux' ? systemProgram('taskset') : null;
    if (taskset) argv.unshift(taskset, '-c', [...new Set(opts.cpus)].join(','));
    else process.emitWarning('engine cpus ignored: this system has no taskset program', { code: 'TINKER_ENGINE_CPUS' });
  }
  return argv;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** How the engine process ended. */
export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** e.g. "was killed by SIGKILL". */
  description: string;
  /** close() ended it, not a crash. */
  expected: boolean;
  /** The last lines it wrote to stderr (a native crash usually says why there). */
  lastStderr: string[];
}

/** Lines of the engine's stderr kept for a crash report. */
const STDERR_TAIL_LINES = 20;

/**
 * Passes the engine's stderr through to ours and keeps its last lines, so that a crash can be
 * reported with what the engine said last.
 */
class StderrTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(stream: NodeJS.ReadableStream | null) {
    stream?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      const parts = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = parts.pop()!.slice(-4096);
      for (const line of parts) this.push(line);
    });
  }

  private push(line: string): void {
    this.lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (this.lines.length > STDERR_TAIL_LINES) this.lines.shift();
  }

  get last(): string[] {
    return this.partial ? [...this.lines, this.partial].slice(-STDERR_TAIL_LINES) : [...this.lines];
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class EngineHost {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly exitListeners: Array<(exit: EngineExit) => void> = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly stderr: StderrTail,
    readonly coreName: string,
    /** Threads the engine computes with (one per CPU it may use). */
    readonly computeThreads: number,
  ) {
    child.on('message', (msg: ProcessMessage) => {
      if (msg.type !== 'reply') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(reviveError(msg.error));
    });
    // 'close', not 'exit': by then the engine's last stderr lines have been read too.
    child.on('close', (code, signal) => {
      const expected = this.closed;
      if (!expected) this.failAll(new EngineWorkerError(`the engine process ${describeExit(code, signal)}`));
      this.closed = true;
      // Synchronously, before the callers hear of their rejected calls: a supervisor can then
      // act on the crash before anything reacts to those failures.
      const exit: EngineExit = { code, signal, description: describeExit(code, signal), expected, lastStderr: this.stderr.last };
      for (const listener of this.exitListeners) listener(exit);
    });
    // A failed send (the process is gone) is reported by 'exit'.
    child.on('error', () => {});
  }

  /** Starts the engine process and waits until its Engine is constructed. */
  static start(opts: EngineHostOptions = {}): Promise<EngineHost> {
    const entry = fileURLToPath(new URL('./engine-process.js', import.meta.url));
    try {
      if (opts.cpus !== undefined) checkCpus(opts.cpus);
    } catch (e) {
      return Promise.reject(e);
    }
    const [command, ...args] = engineCommand(opts, entry);
    const child = spawn(command!, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced' });
    const stderr = new StderrTail(child.stderr);
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new EngineWorkerError(`the engine process failed to start: ${e.message}`));
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new EngineWorkerError(`the engine process ${describeExit(code, signal)} while starting` +
          (stderr.last.length ? `; its last output: ${stderr.last.join(' | ')}` : '')));
      const onMessage = (msg: ProcessMessage) => {
        if (msg.type === 'reply') return;
        child.off('error', onError);
        child.off('exit', onExit);
        child.off('message', onMessage);
        if (msg.type === 'ready') resolve(new EngineHost(child, stderr, msg.coreName, msg.computeThreads));
        else {
          reject(reviveError(msg.error));
          child.kill('SIGKILL');
        }
      };
      child.once('error', onError);
      child.once('exit', onExit);
      child.on('message', onMessage);
      child.send({ type: 'init', options: opts } satisfies HostMessage);
    });
  }

  /** The engine process's id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Calls `listener` once, when the engine process has ended (after close() too, as `expected`). */
  onExit(listener: (exit: EngineExit) => void): void {
    this.exitListeners.push(listener);
  }

  /** False once the engine process has ended or close() was called. */
  get alive(): boolean {
    return !this.closed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the engine process wrote to stderr. */
  get lastStderr(): string[] {
    return this.stderr.last;
  }

  /** Calls accepted but not yet started (the one running is not counted). */
  get queueLength(): number {
    return Math.max(0, this.pending.size - 1);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call<T>(method: EngineMethod, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new EngineWorkerError('the engine host is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ type: 'call', id, method, args } satisfies HostMessage, (err) => {
        if (err && this.pending.delete(id)) reject(new EngineWorkerError(`the engine process is gone: ${err.message}`));
      });
    });
  }

  listModels(): Promise<SupportedModelInfo[]> { return this.call('listModels'); }
  hasModel(name: string): Promise<boolean> { return this.call('hasModel', name); }
  createAdapter(adapterId: string, baseModel: string, lora: LoraConfigInput, optimizer: OptimizerKind = 'adamw'): Promise<void> {
    return this.call('createAdapter', adapterId, baseModel, lora, optimizer);
  }
  adapterInfo(adapterId: string): Promise<AdapterInfo> { return this.call('adapterInfo', adapterId); }
  dropAdapter(adapterId: string): Promise<void> { return this.call('dropAdapter', adapterId); }
  forwardBackward(adapterId: string, data: Datum[], lossFn: string, lossFnConfig: Record<string, number> | null, forwardOnly: boolean,
    customLoss: LossProgram | null = null): Promise<ForwardBackwardOutput> {
    return this.call('forwardBackward', adapterId, data, lossFn, lossFnConfig, forwardOnly, customLoss);
  }
  optimStep(adapterId: string, params: OptimStepInput): Promise<{ metrics: Record<string, number> }> { return this.call('optimStep', adapterId, params); }
  saveState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void> { return this.call('saveState', adapterId, dir, withOptimizer); }
  loadState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void> { return this.call('loadState', adapterId, dir, withOptimizer); }
  readStateInfo(dir: string): Promise<StateInfo> { return this.call('readStateInfo', dir); }
  saveSamplerWeights(adapterId: string, dir: string): Promise<void> { return this.call('saveSamplerWeights', adapterId, dir); }
  sample(source: SampleSource, req: SampleInput): Promise<SampleResponse> { return this.call('sample', source, req); }
  releaseSamplerWeights(dirs: string[]): Promise<number> { return this.call('releaseSamplerWeights', dirs); }
  memoryInfo(): Promise<EngineMemoryInfo> { return this.call('memoryInfo'); }
  tokenizerFiles(baseModel: string): Promise<{ tokenizerJson: string; tokenizerConfigJson: string | null }> { return this.call('tokenizerFiles', baseModel); }

  /** Stops the engine process; calls still pending are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new EngineWorkerError('the engine host was closed'));
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // Not a graceful stop: a call still computing is abandoned, as its caller was told.
    this.child.kill('SIGKILL');
    await exited;
  }
}

// Keeps the method list above in step with the Engine class at compile time.
type _Check = { [M in EngineMethod]: Engine[M] };
