/**
 * EngineHost: the Engine's methods as Promises, executed by one Engine inside a worker_thread
 * so that long native calls never block the caller's event loop. Calls queue in order; errors
 * come back with their class (an EngineUserError stays an EngineUserError).
 */
import { Worker } from 'node:worker_threads';
import type { Datum, ForwardBackwardOutput, SampleResponse, AdamParams } from '@tinker-ts/protocol';
import type { AdapterInfo, Engine, EngineOptions, LoraConfigInput, SampleInput, SampleSource, StateInfo } from './engine.js';
import { EngineError, EngineUserError } from './errors.js';
import type { SupportedModelInfo } from './model-registry.js';

/** Names of the Engine methods callable through the host. */
export type EngineMethod =
  | 'listModels' | 'hasModel' | 'createAdapter' | 'adapterInfo' | 'dropAdapter' | 'forwardBackward' | 'optimStep'
  | 'saveState' | 'loadState' | 'readStateInfo' | 'saveSamplerWeights' | 'sample' | 'tokenizerFiles';

export interface WorkerRequest {
  id: number;
  method: EngineMethod;
  args: unknown[];
}

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string; user: boolean } };

type ReadyMessage = { type: 'ready'; coreName: string } | { type: 'failed'; error: { name: string; message: string; stack?: string; user: boolean } };

export interface EngineHostOptions extends Omit<EngineOptions, 'log'> {
  /**
   * Scheduling niceness (0–19) of the engine's threads: the worker and the compute threads it
   * starts (OpenBLAS's, the kernels' task pool) inherit it, the caller's thread keeps its own.
   * A server gives its engine a positive niceness so that on a machine whose cores the engine
   * keeps busy the request thread still runs the moment a request arrives. Linux only;
   * default 0 (unchanged).
   */
  niceness?: number;
}

/** An internal engine fault (not the caller's input) reported from the worker. */
export class EngineWorkerError extends EngineError {}

function reviveError(e: { name: string; message: string; stack?: string; user: boolean }): Error {
  const err = e.user ? new EngineUserError(e.message) : new EngineWorkerError(`${e.name}: ${e.message}`);
  if (e.stack) err.stack = e.stack;
  return err;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class EngineHost {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(private readonly worker: Worker, readonly coreName: string) {
    worker.on('message', (msg: WorkerReply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(reviveError(msg.error));
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (e) => failAll(new EngineWorkerError(`engine worker crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.closed) failAll(new EngineWorkerError(`engine worker exited with code ${code}`));
      this.closed = true;
    });
  }

  /** Starts the worker and waits until its Engine is constructed. */
  static start(opts: EngineHostOptions = {}): Promise<EngineHost> {
    const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: opts });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new EngineWorkerError(`engine worker failed to start: ${e.message}`));
      const onExit = (code: number) => reject(new EngineWorkerError(`engine worker exited with code ${code} while starting`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (msg: ReadyMessage) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (msg.type === 'ready') resolve(new EngineHost(worker, msg.coreName));
        else {
          reject(reviveError(msg.error));
          void worker.terminate();
        }
      });
    });
  }

  /** Calls accepted but not yet started (the one running is not counted). */
  get queueLength(): number {
    return Math.max(0, this.pending.size - 1);
  }

  private call<T>(method: EngineMethod, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new EngineWorkerError('the engine host is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args } satisfies WorkerRequest);
    });
  }

  listModels(): Promise<SupportedModelInfo[]> { return this.call('listModels'); }
  hasModel(name: string): Promise<boolean> { return this.call('hasModel', name); }
  createAdapter(adapterId: string, baseModel: string, lora: LoraConfigInput): Promise<void> { return this.call('createAdapter', adapterId, baseModel, lora); }
  adapterInfo(adapterId: string): Promise<AdapterInfo> { return this.call('adapterInfo', adapterId); }
  dropAdapter(adapterId: string): Promise<void> { return this.call('dropAdapter', adapterId); }
  forwardBackward(adapterId: string, data: Datum[], lossFn: string, lossFnConfig: Record<string, number> | null, forwardOnly: boolean): Promise<ForwardBackwardOutput> {
    return this.call('forwardBackward', adapterId, data, lossFn, lossFnConfig, forwardOnly);
  }
  optimStep(adapterId: string, adam: Partial<AdamParams>): Promise<{ metrics: Record<string, number> }> { return this.call('optimStep', adapterId, adam); }
  saveState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void> { return this.call('saveState', adapterId, dir, withOptimizer); }
  loadState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void> { return this.call('loadState', adapterId, dir, withOptimizer); }
  readStateInfo(dir: string): Promise<StateInfo> { return this.call('readStateInfo', dir); }
  saveSamplerWeights(adapterId: string, dir: string): Promise<void> { return this.call('saveSamplerWeights', adapterId, dir); }
  sample(source: SampleSource, req: SampleInput): Promise<SampleResponse> { return this.call('sample', source, req); }
  tokenizerFiles(baseModel: string): Promise<{ tokenizerJson: string; tokenizerConfigJson: string | null }> { return this.call('tokenizerFiles', baseModel); }

  /** Stops the worker; calls still pending are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new EngineWorkerError('the engine host was closed'));
    this.pending.clear();
    await this.worker.terminate();
  }
}

// Keeps the method list above in step with the Engine class at compile time.
type _Check = { [M in EngineMethod]: Engine[M] };
