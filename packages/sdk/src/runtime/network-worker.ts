// Entry point of the network thread. After each message it posts, it bumps a shared counter and
// notifies it, so a caller blocked in APIFuture.result() (Atomics.wait on that counter) wakes up
// and drains the port synchronously.
import { workerData, type MessagePort } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import type { FromNetwork, ToNetwork } from './messages.js';
import { NetworkCore } from './network-core.js';
import type { NetworkSettings } from './options.js';

export interface NetworkWorkerData {
  port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: [0] counts messages posted. */
  signal: SharedArrayBuffer;
  settings: NetworkSettings;
}

const { port, signal, settings } = workerData as NetworkWorkerData;
const counter = new Int32Array(signal);

function post(msg: FromNetwork): void {
  port.postMessage(msg);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

const core = new NetworkCore(settings, globalThis.fetch, post);

port.on('message', (msg: ToNetwork) => {
  core.handle(msg);
  if (msg.t === 'close') port.close();
});

// Never leave a blocked caller waiting on a thread that died.
process.on('uncaughtException', (e) => post({ t: 'fatal', error: serializeError(e) }));
process.on('unhandledRejection', (e) => post({ t: 'log', level: 'warn', msg: `network thread: unhandled rejection: ${e instanceof Error ? e.stack : String(e)}` }));
