/**
 * The engine process: one Engine, driven by request messages from EngineHost over the IPC
 * channel and answering each with its result or its error. Calls run one at a time in arrival
 * order. The first message carries the engine's options; the process exits when the channel
 * closes (its host closed it, or the host's process died).
 */
import { getPriority, setPriority } from 'node:os';
import { Engine } from './engine.js';
import { EngineError } from './errors.js';
import { blasThreads, openblasCoreName } from './native-kernels.js';
import type { EngineHostOptions, EngineMethod, HostMessage, ProcessMessage, SerializedError } from './engine-host.js';

function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    return { name: e.name, message: e.message, stack: e.stack, category: e instanceof EngineError ? e.category : 'server' };
  }
  return { name: 'Error', message: String(e), category: 'server' };
}

if (!process.send) throw new Error('engine-process.js is started by EngineHost (it needs an IPC channel)');
const send = (msg: ProcessMessage) => {
  // The host may be gone; then 'disconnect' ends this process.
  if (process.connected) process.send!(msg, undefined, undefined, () => {});
};

let engine: Engine | null = null;

function init(opts: EngineHostOptions): void {
  try {
    // Where the host could not start this process niced, lower at least this thread before the
    // native addon loads: OpenBLAS's and the task pool's threads inherit it.
    if (opts.niceness && process.platform === 'linux' && getPriority(0) < opts.niceness) setPriority(0, opts.niceness);
    engine = new Engine({ ...opts, log: (line) => process.stderr.write(`[tinker-ts engine] ${line}\n`) });
    const reference = opts.kernels === 'reference';
    send({ type: 'ready', coreName: reference ? 'reference' : openblasCoreName(), computeThreads: reference ? 1 : blasThreads() });
  } catch (e) {
    send({ type: 'failed', error: serializeError(e) });
    process.disconnect();
  }
}

process.on('message', (msg: HostMessage) => {
  if (msg.type === 'init') {
    if (!engine) init(msg.options);
    return;
  }
  try {
    if (!engine) throw new Error('the engine process received a call before its options');
    const fn = engine[msg.method as EngineMethod] as (...args: unknown[]) => unknown;
    if (typeof fn !== 'function') throw new Error(`unknown engine method ${msg.method}`);
    send({ type: 'reply', id: msg.id, ok: true, result: fn.apply(engine, msg.args) });
  } catch (e) {
    send({ type: 'reply', id: msg.id, ok: false, error: serializeError(e) });
  }
});
process.on('disconnect', () => process.exit(0));
