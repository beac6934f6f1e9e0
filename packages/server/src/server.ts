/**
 * startServer: a local server speaking hosted Tinker's HTTP API, backed by the CPU engine in a
 * child process (niced, see EngineHost) and durable state in `<dataDir>`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type AppOptions } from './app.js';
import { checkCorsOrigin, withCors } from './cors.js';
import { answerClientError } from './client-error.js';
import type { ServerContext, ServerSettings } from './context.js';
import { EngineSupervisor, type EngineSupervisorOptions } from './engine-supervisor.js';
import { notLiveMessage } from './submit.js';
import { isolateRequestThread, type RequestThreadPlacement } from './request-thread.js';
import { registerThreadServer } from './thread-servers.js';

export interface StartServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = any free port. Default 0. */
  port?: number;
  /** Database, checkpoints and sampler weights live here. */
  dataDir: string;
  /** Extra base models: name → local Hugging Face model directory. */
  models?: Record<string, string>;
  /**
   * How base models' frozen weights are stored: name → "bf16" or "f32" (default: the
   * checkpoint's dtype; f32 for stand-ins). See the engine's EngineOptions.dtypes.
   */
  dtypes?: Record<string, string>;
  /** key → user; absent = dev mode: any "tml-" key is its own user. */
  apiKeys?: Record<string, string>;
  kernels?: 'native' | 'reference';
  /**
   * Niceness of the engine's compute threads (Linux; default 10): when training or sampling
   * keeps every core busy, the thread answering HTTP requests still gets a core at once.
   */
  engineNiceness?: number;
  /**
   * CPUs the engine may use (Linux; default all). Leaving one out keeps a core for the request
   * path, so requests are answered within a millisecond or two even while the engine computes,
   * at the price of engine speed on that core. See EngineHostOptions.cpus.
   */
  engineCpus?: readonly number[];
  /**
   * With engineCpus (Linux): also move this process's other threads (V8's helpers, libuv's pool,
   * the WAL checkpoint thread) onto the engine's CPUs, so that the thread answering requests has
   * the CPUs left over to itself; close() puts them back. `tinker-ts serve --engine-cpus` does
   * this; off by default here, since an embedding process's threads are its own. See
   * request-thread.ts.
   */
  isolateRequestThread?: boolean;
  /**
   * Memory the engine may keep sampler weights loaded in (bytes; default 256 MiB). Beyond it the
   * least recently used are dropped and read from disk again on their next use.
   */
  samplerCacheBytes?: number;
  log?: (line: string) => void;
  /** Restarts of a crashed engine: backoff, crash-loop limit and window (see EngineSupervisor). */
  engineRestarts?: Pick<EngineSupervisorOptions, 'backoffMs' | 'crashLimit' | 'crashWindowMs'>;
  settings?: Partial<ServerSettings>;
  /** What one request may cost: body sizes, JSON depth, tokens per request (see limits.ts). */
  limits?: AppOptions['limits'];
  sweepIntervalMs?: number;
  extraRoutes?: AppOptions['extraRoutes'];
  /**
   * Origins whose web pages may call this server (`*` for any): their requests get CORS headers
   * and preflights are answered. Default none (see cors.ts).
   */
  cors?: readonly string[];
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  engine: EngineSupervisor;
  /** The application state (store, queues, ...), for embedding and tests. */
  ctx: ServerContext;
  close(): Promise<void>;
}

const DEFAULT_ENGINE_NICENESS = 10;

/** How long close() lets a running engine call finish before stopping the engine process. */
const CLOSE_GRACE_MS = 10_000;

export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  for (const origin of opts.cors ?? []) {
    const problem = checkCorsOrigin(origin);
    if (problem) throw new RangeError(`cors: ${problem}`);
  }
  const engine = await EngineSupervisor.start({
    engine: {
      models: opts.models,
      ...(opts.dtypes ? { dtypes: opts.dtypes } : {}),
      kernels: opts.kernels,
      niceness: opts.engineNiceness ?? DEFAULT_ENGINE_NICENESS,
      ...(opts.engineCpus ? { cpus: opts.engineCpus } : {}),
      ...(opts.samplerCacheBytes !== undefined ? { samplerCacheBytes: opts.samplerCacheBytes } : {}),
    },
    ...opts.engineRestarts,
    log,
  });
  log(`engine ready (OpenBLAS core ${engine.coreName}, ${engine.computeThreads} compute thread${engine.computeThreads === 1 ? '' : 's'}` +
    `${opts.engineCpus ? ` on CPUs ${opts.engineCpus.join(',')}` : ''})`);
  let app;
  try {
    app = await createApp({
      dataDir: opts.dataDir,
      engine,
      apiKeys: opts.apiKeys,
      settings: opts.settings,
      limits: opts.limits,
      sweepIntervalMs: opts.sweepIntervalMs,
      extraRoutes: opts.extraRoutes,
      log,
    });
  } catch (err) {
    await engine.close();
    throw err;
  }
  superviseModels(engine, app.ctx);
  let placement: RequestThreadPlacement | null = null;
  if (opts.engineCpus && opts.isolateRequestThread) {
    const placed = await isolateRequestThread(opts.engineCpus);
    if (typeof placed === 'string') {
      log(`request thread not isolated: ${placed}`);
    } else {
      placement = placed;
      log(`request thread alone on CPUs ${placed.requestCpus.join(',')}; the process's other threads on CPUs ${placed.backgroundCpus.join(',')}`);
    }
  }
  for (const m of app.ctx.models.filter((x) => !x.alias_of)) {
    log(`model ${m.model_name} (${m.family}, context ${m.max_context_length})${m.stand_in ? ' [stand-in: random weights]' : ''}`);
  }
  const aliases = app.ctx.models.filter((x) => x.alias_of);
  if (aliases.length > 0) log(`retired names accepted as aliases: ${aliases.map((m) => `${m.model_name} → ${m.alias_of}`).join(', ')}`);

  const server = http.createServer(withCors(app.router.handle, opts.cors ?? []));
  server.on('clientError', answerClientError);
  // Long polls last ~20 s; keep sockets open a little longer than that.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Bodies arrive quickly from local clients; a stalled upload should not hold a socket forever.
  server.requestTimeout = 300_000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const unregister = registerThreadServer(url);
  log(`listening on ${url} (data dir ${opts.dataDir}, ${opts.apiKeys ? 'configured API keys' : 'dev mode: any tml- key'})`);

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    engine,
    ctx: app.ctx,
    close() {
      closing ??= (async () => {
        unregister();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await Promise.race([app.ctx.queues.whenIdle(), new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref())]);
        await engine.close();
        await app.close();
        placement?.restore();
      })();
      return closing;
    },
  };
}

/**
 * What an engine restart means for the models: requests queued against the state that died
 * fail (their seq_ids stay used, so later requests run), and a model the supervisor could not
 * rebuild is lost, exactly as after a restart of the whole server: its requests fail saying so
 * and naming its last checkpoint.
 */
function superviseModels(engine: EngineSupervisor, ctx: ServerContext): void {
  engine.setRecoveryHooks({
    crashed: (message) => {
      const failed = ctx.queues.failWaitingOrdered(message, 'server');
      if (failed) ctx.log(`${failed} queued request(s) failed: the engine restarted under them`);
    },
    lost: (modelId, reason) => {
      let model = ctx.store.models.get(modelId);
      try {
        if (model && (model.state === 'active' || model.state === 'creating')) ctx.store.models.setState(modelId, 'lost', reason);
      } catch (err) {
        ctx.log(`could not record that model ${modelId} lost its state: ${String(err)}`);
      }
      model = ctx.store.models.get(modelId);
      const message = (model && notLiveMessage(ctx, model)) ?? `model ${modelId} lost its in-memory training state (${reason})`;
      ctx.queues.close(modelId, message);
      return message;
    },
  });
}
