// Entry point of the network thread. After each message it posts, it bumps a shared counter and
// notifies it, so a caller blocked in APIFuture.result() (Atomics.wait on that counter) wakes up
// and drains the port synchronously.
import { workerData, type MessagePort } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import type { FromNetwork, ToNetwork } from './messages.js';
import { NetworkCore } from './network-core.js';
import type { NetworkSettings } from './options.js';
import { nodeHttpTransport } from './node-http-transport.js';

export interface NetworkWorkerData {
  port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: [0] counts messages posted; [1] is 1 once this thread is exiting. */
  signal: SharedArrayBuffer;
  settings: NetworkSettings;
}

const { port, signal, settings } = workerData as NetworkWorkerData;
const counter = new Int32Array(signal);

// Messages of one event-loop turn go out as one batch: fewer postMessage calls and wake-ups.
let outbox: FromNetwork[] = [];
/** Set once the core reports `closed`: the port closes after that batch is out. */
let closeAfterFlush = false;
function flush(): void {
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
  if (closeAfterFlush) port.close();
}
function post(msg: FromNetwork): void {
  if (msg.t === 'closed') closeAfterFlush = true;
  if (outbox.push(msg) === 1) setImmediate(flush);
}

const core = new NetworkCore(settings, nodeHttpTransport(), post);

port.on('message', (batch: ToNetwork[]) => {
  for (const msg of batch) core.handle(msg);
});

// Never leave a blocked caller waiting on a thread that died.
process.on('uncaughtException', (e) => {
  post({ t: 'fatal', error: serializeError(e) });
  flush();
});
// The caller's thread hears of an exit through the worker's 'exit' event, which cannot fire while
// it is blocked in result(): the flag wakes it. (process.exit() in this thread, from any code,
// lands here; terminate() comes from the caller's side, which knows.)
process.on('exit', () => {
  Atomics.store(counter, 1, 1);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
});
process.on('unhandledRejection', (e) => post({ t: 'log', level: 'warn', msg: `network thread: unhandled rejection: ${e instanceof Error ? e.stack : String(e)}` }));
