/**
 * EngineSupervisor: the engine process, kept alive. When it dies (a native crash, the OOM
 * killer, a stray SIGKILL) the supervisor logs how it ended and what it last wrote to stderr,
 * fails what was running in it, starts a new one after a backoff and rebuilds every model whose
 * state it can rebuild exactly (see AdapterLedger); calls made meanwhile wait for it. After
 * `crashLimit` crashes within `crashWindowMs` it stops trying and the engine is down: every call
 * then fails at once, and healthz says so.
 */
import { randomInt } from 'node:crypto';
import { EngineHost, type EngineExit, type EngineHostOptions, type LossProgram } from '@tinker-ts/engine';
import type { Datum, OptimizerKind } from '@tinker-ts/protocol';
import { AdapterLedger } from './adapter-ledger.js';
import type { EngineLoraSettings, EnginePort, EngineSampleRequest, EngineSampleSource } from './engine-port.js';
import { RequestFailure } from './errors.js';

export type EngineStatus = 'ok' | 'degraded' | 'restarting' | 'down';

/** What healthz reports about the engine. */
export interface EngineHealth {
  /** ok: serving, no crash lately; degraded: serving, but it crashed within the crash window; restarting / down: not serving. */
  status: EngineStatus;
  pid: number | null;
  /** Engine processes started after a crash, since the server started. */
  restarts: number;
  /** Crashes within the last crash window (the limit counts these). */
  recentCrashes: number;
  crashLimit: number;
  crashWindowMs: number;
  lastExit: { at: string; exit: string; lastStderr: string[] } | null;
}

/** What the server does around a restart (wired to its queues and store). */
export interface EngineRecoveryHooks {
  /** Right after the crash, before anything hears of the failed calls. */
  crashed(message: string): void;
  /** A model whose state could not be rebuilt; returns the message its later calls fail with. */
  lost(adapterId: string, reason: string): string;
}

export interface EngineSupervisorOptions {
  engine: EngineHostOptions;
  log?: (line: string) => void;
  /** Wait before each restart attempt, by the number of recent crashes (the last one repeats). */
  backoffMs?: readonly number[];
  crashLimit?: number;
  crashWindowMs?: number;
}

export const DEFAULT_BACKOFF_MS: readonly number[] = [100, 1000, 5000, 15_000];
export const DEFAULT_CRASH_LIMIT = 5;
export const DEFAULT_CRASH_WINDOW_MS = 10 * 60_000;

export class EngineSupervisor implements EnginePort {
  private host: EngineHost | null;
  /** Resolves when the engine serves again (or is down); null while it serves. */
  private restarting: Promise<void> | null = null;
  private down = false;
  private closed = false;
  private restarts = 0;
  private crashTimes: number[] = [];
  private lastExit: EngineHealth['lastExit'] = null;
  private readonly ledger = new AdapterLedger();
  /** Models that could not be rebuilt, with the message their calls fail with. */
  private readonly lostAdapters = new Map<string, string>();
  private hooks: EngineRecoveryHooks = { crashed: () => {}, lost: (id, reason) => `model ${id} lost its state: ${reason}` };
  private readonly log: (line: string) => void;
  private readonly backoffMs: readonly number[];
  private readonly crashLimit: number;
  private readonly crashWindowMs: number;

  private constructor(
    host: EngineHost,
    private readonly opts: EngineSupervisorOptions,
  ) {
    this.host = host;
    this.log = opts.log ?? (() => {});
    this.backoffMs = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.crashLimit = opts.crashLimit ?? DEFAULT_CRASH_LIMIT;
    this.crashWindowMs = opts.crashWindowMs ?? DEFAULT_CRASH_WINDOW_MS;
    this.watch(host);
  }

  /** Starts the first engine process (a failure here is the caller's, not retried). */
  static async start(opts: EngineSupervisorOptions): Promise<EngineSupervisor> {
    return new EngineSupervisor(await EngineHost.start(opts.engine), opts);
  }

  setRecoveryHooks(hooks: EngineRecoveryHooks): void {
    this.hooks = hooks;
  }

  get pid(): number | undefined {
    return this.host?.pid;
  }

  get coreName(): string {
    return this.host?.coreName ?? 'unknown';
  }

  get computeThreads(): number {
    return this.host?.computeThreads ?? 0;
  }

  get queueLength(): number {
    return this.host?.queueLength ?? 0;
  }

  health(): EngineHealth {
    const recent = this.recentCrashes(Date.now());
    const status: EngineStatus = this.down ? 'down' : this.restarting ? 'restarting' : recent > 0 ? 'degraded' : 'ok';
    return {
      status,
      pid: this.host?.pid ?? null,
      restarts: this.restarts,
      recentCrashes: recent,
      crashLimit: this.crashLimit,
      crashWindowMs: this.crashWindowMs,
      lastExit: this.lastExit,
    };
  }

  private recentCrashes(now: number): number {
    this.crashTimes = this.crashTimes.filter((t) => t > now - this.crashWindowMs);
    return this.crashTimes.length;
  }

  private watch(host: EngineHost): void {
    host.onExit((exit) => {
      if (!exit.expected && !this.closed) this.crashed(exit);
    });
  }

  private crashed(exit: EngineExit): void {
    const now = Date.now();
    this.host = null;
    this.crashTimes.push(now);
    this.lastExit = { at: new Date(now).toISOString(), exit: exit.description, lastStderr: exit.lastStderr };
    const tail = exit.lastStderr.length ? `; its last stderr lines:\n  ${exit.lastStderr.join('\n  ')}` : '; it wrote nothing to stderr';
    this.log(`engine process ${exit.description} (exit code ${exit.code}, signal ${exit.signal ?? 'none'})${tail}`);
    this.hooks.crashed(this.restartMessage());
    if (!this.restarting) {
      let done!: () => void;
      this.restarting = new Promise<void>((resolve) => (done = resolve));
      void this.restartLoop().finally(() => {
        this.restarting = null;
        done();
      });
    }
  }

  /** What a call that was running or queued when the engine died fails with. */
  private restartMessage(): string {
    return `the engine restarted (its process ${this.lastExit?.exit ?? 'ended'}) before this request finished; it was not applied: ` +
      'send it again as a new request';
  }

  private downMessage(): string {
    return `the engine is down: it crashed ${this.crashLimit} times within ${Math.round(this.crashWindowMs / 1000)} s ` +
      `(last: its process ${this.lastExit?.exit ?? 'ended'}); the server must be restarted`;
  }

  private async restartLoop(): Promise<void> {
    for (;;) {
      const recent = this.recentCrashes(Date.now());
      if (recent >= this.crashLimit) {
        this.down = true;
        this.log(`engine crashed ${recent} times within ${Math.round(this.crashWindowMs / 1000)} s: not restarting it; the server must be restarted`);
        for (const id of this.ledger.ids()) this.lose(id, `the engine crashed ${recent} times and is down`);
        return;
      }
      const delay = this.backoffMs[Math.min(recent - 1, this.backoffMs.length - 1)] ?? 0;
      this.log(`restarting the engine in ${delay} ms (crash ${recent} of at most ${this.crashLimit} within ${Math.round(this.crashWindowMs / 1000)} s)`);
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.closed) return;
      let host: EngineHost;
      try {
        host = await EngineHost.start(this.opts.engine);
      } catch (err) {
        this.crashTimes.push(Date.now());
        this.lastExit = { at: new Date().toISOString(), exit: `failed to start (${String(err)})`, lastStderr: [] };
        this.log(`the engine failed to start again: ${String(err)}`);
        continue;
      }
      if (this.closed) {
        await host.close();
        return;
      }
      this.restarts++;
      this.watch(host);
      const restored = await this.restore(host);
      if (!host.alive) continue;
      this.host = host;
      this.log(`engine restarted (pid ${host.pid}): ${restored.restored} model(s) restored, ${restored.lost} lost their state`);
      return;
    }
  }

  /** Rebuilds each model in `host` that can be rebuilt exactly; the others are lost. */
  private async restore(host: EngineHost): Promise<{ restored: number; lost: number }> {
    let restored = 0;
    let lost = 0;
    for (const plan of await this.ledger.plan()) {
      if ('lost' in plan) {
        this.lose(plan.adapterId, `the engine restarted at ${new Date().toISOString()} and ${plan.lost}`);
        lost++;
        continue;
      }
      const { baseModel, lora, optimizer, source } = plan.restore;
      try {
        await host.createAdapter(plan.adapterId, baseModel, lora, optimizer);
        if (source.kind === 'checkpoint') await host.loadState(plan.adapterId, source.dir, source.withOptimizer);
        restored++;
      } catch (err) {
        if (!host.alive) return { restored, lost };
        this.lose(plan.adapterId, `the engine restarted and the model could not be rebuilt (${err instanceof Error ? err.message : String(err)})`);
        lost++;
      }
    }
    return { restored, lost };
  }

  private lose(adapterId: string, reason: string): void {
    this.ledger.dropped(adapterId);
    this.lostAdapters.set(adapterId, this.hooks.lost(adapterId, reason));
  }

  /**
   * Runs `fn` on the serving engine: waits through a restart, fails at once when the engine is
   * down, and turns "the engine died under this call" into a clear server-side failure.
   * `changed(ok)` runs when a call that changes a model's state finished or failed on its own
   * (not when the engine died under it: the state it changed died with it).
   */
  private async call<T>(adapterId: string | null, fn: (host: EngineHost) => Promise<T>, changed?: (ok: boolean) => void): Promise<T> {
    while (this.restarting) await this.restarting;
    if (this.down) throw new RequestFailure(this.downMessage(), 'server');
    const lost = adapterId !== null ? this.lostAdapters.get(adapterId) : undefined;
    if (lost) throw new RequestFailure(lost, 'user');
    const host = this.host;
    if (!host) throw new RequestFailure('the engine is not running', 'server');
    let result: T;
    try {
      result = await fn(host);
    } catch (err) {
      if (!host.alive && !this.closed) throw new RequestFailure(this.restartMessage(), 'server');
      changed?.(false);
      throw err;
    }
    changed?.(true);
    return result;
  }

  listModels() { return this.call(null, (h) => h.listModels()); }
  hasModel(name: string) { return this.call(null, (h) => h.hasModel(name)); }

  /** Without a seed the initialisation is random; the seed is chosen here so a restart can repeat it. */
  async createAdapter(adapterId: string, baseModel: string, lora: EngineLoraSettings, optimizer: OptimizerKind = 'adamw'): Promise<void> {
    const seeded = { ...lora, seed: lora.seed ?? randomInt(0, 2 ** 31) };
    await this.call(adapterId, (h) => h.createAdapter(adapterId, baseModel, seeded, optimizer));
    this.ledger.created(adapterId, baseModel, seeded, optimizer);
  }

  async dropAdapter(adapterId: string): Promise<void> {
    this.ledger.dropped(adapterId);
    if (this.lostAdapters.delete(adapterId)) return;
    await this.call(adapterId, (h) => h.dropAdapter(adapterId));
  }

  forwardBackward(adapterId: string, data: Datum[], lossFn: string, lossFnConfig: Record<string, number> | null, forwardOnly: boolean,
    customLoss: LossProgram | null = null) {
    return this.call(
      adapterId,
      (h) => h.forwardBackward(adapterId, data, lossFn, lossFnConfig, forwardOnly, customLoss),
      () => this.ledger.trained(adapterId, forwardOnly),
    );
  }

  optimStep(adapterId: string, adam: Parameters<EngineHost['optimStep']>[1]) {
    return this.call(adapterId, (h) => h.optimStep(adapterId, adam), () => this.ledger.stepped(adapterId));
  }

  saveState(adapterId: string, dir: string, withOptimizer: boolean) {
    return this.call(adapterId, (h) => h.saveState(adapterId, dir, withOptimizer));
  }

  /** The model's full state (optimizer included) is now recorded as the checkpoint in `dir`. */
  noteCheckpoint(adapterId: string, dir: string): Promise<void> {
    return this.ledger.saved(adapterId, dir);
  }

  async loadState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void> {
    // A load that failed part-way may have replaced some tensors: count that as a change.
    await this.call(adapterId, (h) => h.loadState(adapterId, dir, withOptimizer), (ok) => ok || this.ledger.stepped(adapterId));
    await this.ledger.loaded(adapterId, dir, withOptimizer);
  }

  readStateInfo(dir: string) { return this.call(null, (h) => h.readStateInfo(dir)); }
  saveSamplerWeights(adapterId: string, dir: string) { return this.call(adapterId, (h) => h.saveSamplerWeights(adapterId, dir)); }
  sample(source: EngineSampleSource, req: EngineSampleRequest) { return this.call(null, (h) => h.sample(source, req)); }
  /** A new engine process holds no sampler weights, so a release during a restart has nothing left to drop. */
  releaseSamplerWeights(dirs: string[]) { return this.call(null, (h) => h.releaseSamplerWeights(dirs)); }
  memoryInfo() { return this.call(null, (h) => h.memoryInfo()); }
  tokenizerFiles(baseModel: string) { return this.call(null, (h) => h.tokenizerFiles(baseModel)); }

  /** Stops supervising and stops the engine process; calls still pending are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    await this.host?.close();
  }
}
