/**
 * The engine worker thread: one Engine, driven by request messages from EngineHost and
 * answering each with its result or its error. Calls run one at a time in arrival order.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.js';
import { EngineUserError } from './errors.js';
import { openblasCoreName } from './native-kernels.js';
import type { EngineHostOptions, EngineMethod, WorkerReply, WorkerRequest } from './engine-host.js';

function serializeError(e: unknown): Extract<WorkerReply, { ok: false }>['error'] {
  if (e instanceof Error) {
    return { name: e.name, message: e.message, stack: e.stack, user: e instanceof EngineUserError };
  }
  return { name: 'Error', message: String(e), user: false };
}

const port = parentPort;
if (!port) throw new Error('engine-worker.js must run as a worker thread');

const opts = (workerData ?? {}) as EngineHostOptions & { log?: never };
let engine: Engine;
try {
  // Before the native addon loads: on Linux this sets the calling thread's niceness only, and
  // every thread started from here on (OpenBLAS's, the task pool's) inherits it.
  if (opts.niceness && process.platform === 'linux') setPriority(0, opts.niceness);
  engine = new Engine({ ...opts, log: (line) => process.stderr.write(`[tinker-ts engine] ${line}\n`) });
  const coreName = opts.kernels === 'reference' ? 'reference' : openblasCoreName();
  port.postMessage({ type: 'ready', coreName });
} catch (e) {
  port.postMessage({ type: 'failed', error: serializeError(e) });
  process.exit(1);
}

port.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const fn = engine[req.method as EngineMethod] as (...args: unknown[]) => unknown;
    if (typeof fn !== 'function') throw new Error(`unknown engine method ${req.method}`);
    reply = { id: req.id, ok: true, result: fn.apply(engine, req.args) };
  } catch (e) {
    reply = { id: req.id, ok: false, error: serializeError(e) };
  }
  port.postMessage(reply);
});
