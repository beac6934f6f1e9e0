/**
 * Builds the server's application — store, futures, queues, routes — on a data directory and
 * an engine, without listening anywhere. `startServer` (server.ts) adds the HTTP listener and
 * the engine process; tests can build an app around any EnginePort.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createAuthenticator } from './auth.js';
import { CheckpointFiles } from './checkpoint-files.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { startCheckpointSweeper } from './checkpoint-sweeper.js';
import { removeOrphanEphemeralFiles, sweepEphemeralSamplers } from './ephemeral-samplers.js';
import { startSessionReaper } from './session-reaper.js';
import { DEFAULT_SETTINGS, type ServerContext, type ServerSettings } from './context.js';
import type { EnginePort } from './engine-port.js';
import { FutureRegistry } from './futures.js';
import { ModelQueues } from './model-queue.js';
import { Router, type Route } from './router.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './limits.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { futureRoutes } from './routes/futures.js';
import { anthropicRoutes } from './routes/anthropic.js';
import { modelRoutes } from './routes/models.js';
import { openAIRoutes } from './routes/openai.js';
import { restRoutes } from './routes/rest.js';
import { checkpointSearchRoutes } from './routes/rest-checkpoint-search.js';
import { samplingRoutes } from './routes/sampling.js';
import { serviceRoutes } from './routes/service.js';
import { sessionRoutes } from './routes/sessions.js';
import { sessionTraceRoutes } from './routes/session-trace.js';
import { trainingRoutes } from './routes/training.js';
import { customLossRoutes } from './routes/custom-losses.js';
import { trainingMetricsRoutes } from './routes/training-metrics.js';
import { weightsRoutes } from './routes/weights.js';
import { Store } from './store.js';
import { WalCheckpointer } from './wal-checkpointer.js';

export const DATABASE_FILE = 'tinker.sqlite';

export interface AppOptions {
  dataDir: string;
  engine: EnginePort;
  /** key → user; absent = dev mode (any "tml-" key is its own user). */
  apiKeys?: Record<string, string>;
  settings?: Partial<ServerSettings>;
  /** What one request may cost; defaults in DEFAULT_REQUEST_LIMITS. */
  limits?: Partial<RequestLimits>;
  /** How often expired checkpoints are deleted and idle sessions finished (default 60 s). */
  sweepIntervalMs?: number;
  log?: (line: string) => void;
  clock?: () => number;
  /** More routes on the same router (e.g. the REST surface), built from the context. */
  extraRoutes?: Array<(ctx: ServerContext) => Route[]>;
}

export interface App {
  ctx: ServerContext;
  router: Router;
  /** Stops background work and closes the database (the engine is the caller's). */
  close(): Promise<void>;
}

export const RESTART_MESSAGE =
  'the server restarted before this request finished; it was not applied (resubmitting it will not run it again — ' +
  'send a new request, or load the last checkpoint if the model lost its state)';

export async function createApp(opts: AppOptions): Promise<App> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const lock = lockDataDir(opts.dataDir);
  let store: Store | null = null;
  let checkpointer: WalCheckpointer | null = null;
  try {
    const file = path.join(opts.dataDir, DATABASE_FILE);
    store = new Store(file, {
      syncEveryCommit: opts.settings?.syncEveryCommit ?? DEFAULT_SETTINGS.syncEveryCommit,
    });
    const checkpointEveryMs = opts.settings?.walCheckpointIntervalMs ?? DEFAULT_SETTINGS.walCheckpointIntervalMs;
    if (checkpointEveryMs > 0) checkpointer = WalCheckpointer.start(store, file, checkpointEveryMs, opts.log);
    return await assemble(opts, store, lock, checkpointer);
  } catch (err) {
    await checkpointer?.stop();
    store?.close();
    lock.release();
    throw err;
  }
}

async function assemble(opts: AppOptions, store: Store, lock: DataDirLock, checkpointer: WalCheckpointer | null): Promise<App> {
  const log = opts.log ?? (() => {});
  const clock = opts.clock ?? Date.now;

  // Recovery: whatever was in flight when the last process died can never complete, and
  // adapters only ever lived in that process's memory.
  const now = clock();
  const failed = store.futures.failUnfinished(RESTART_MESSAGE, now);
  const lost = store.models.loseLive(`the server restarted at ${new Date(now).toISOString()}`);
  if (failed || lost) log(`recovered data dir: ${failed} unfinished request(s) failed, ${lost} model(s) lost their in-memory state`);

  const checkpoints = new CheckpointFiles(path.join(opts.dataDir, 'checkpoints'));
  const ephemeral = new CheckpointFiles(path.join(opts.dataDir, 'ephemeral'));
  const stale = (await checkpoints.removeStaleTemporaries()) + (await ephemeral.removeStaleTemporaries());
  if (stale) log(`removed ${stale} partially written checkpoint director${stale === 1 ? 'y' : 'ies'}`);

  const futures = new FutureRegistry(store, clock, log);
  const queues = new ModelQueues({ futures, engineBacklog: () => opts.engine.queueLength, log, clock });
  const authenticate = createAuthenticator(opts.apiKeys);
  const ctx: ServerContext = {
    store,
    futures,
    queues,
    engine: opts.engine,
    checkpoints,
    ephemeral,
    models: await opts.engine.listModels(),
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
    limits: { ...DEFAULT_REQUEST_LIMITS, ...opts.limits },
    clock,
    log,
    authenticate,
  };

  const router = new Router({ authenticate, limits: ctx.limits, log });
  router.addAll([
    ...serviceRoutes(ctx),
    ...sessionRoutes(ctx),
    ...modelRoutes(ctx),
    ...trainingRoutes(ctx),
    ...customLossRoutes(ctx),
    ...weightsRoutes(ctx),
    ...samplingRoutes(ctx),
    ...futureRoutes(ctx),
    ...restRoutes(ctx),
    ...checkpointSearchRoutes(ctx),
    ...trainingMetricsRoutes(ctx),
    ...dashboardRoutes(ctx),
    ...sessionTraceRoutes(ctx),
    ...openAIRoutes(ctx),
    ...anthropicRoutes(ctx),
  ]);
  for (const extra of opts.extraRoutes ?? []) router.addAll(extra(ctx));

  // Ephemeral sampler weights of sessions that ended (or went unused) while the server was down,
  // and files no sampling session refers to any more (deleted records, interrupted saves).
  const released = await sweepEphemeralSamplers(ctx);
  const orphans = await removeOrphanEphemeralFiles(ctx);
  if (released || orphans) log(`deleted ${released + orphans} ephemeral sampler weights left from before the restart`);

  const stopSweeper = startCheckpointSweeper(ctx, opts.sweepIntervalMs ?? 60_000);
  const stopReaper = startSessionReaper(ctx, opts.sweepIntervalMs ?? 60_000);
  return {
    ctx,
    router,
    async close() {
      stopSweeper();
      stopReaper();
      futures.close();
      await checkpointer?.stop();
      store.close();
      lock.release();
    },
  };
}
