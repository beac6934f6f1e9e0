// The network side on its own worker thread (the default on Node, Bun and Deno). result() blocks
// with Atomics.wait on a counter the network thread bumps after every batch of messages, then
// drains the port synchronously with receiveMessageOnPort — so blocking never deadlocks and
// heartbeats keep flowing meanwhile.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TinkerError, serializeError } from '../errors.js';
import type { Blocker } from '../future.js';
import type { FromNetwork, ToNetwork } from './messages.js';
import type { NetworkLink } from './network-link.js';
import type { NetworkWorkerData } from './network-worker.js';
import type { NetworkSettings } from './options.js';

export class WorkerNetworkLink implements NetworkLink {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private outbox: ToNetwork[] = [];
  private terminating = false;
  readonly blocker: Blocker;

  /** `blockedReason` says why result() must not block now (undefined: it may). */
  constructor(settings: NetworkSettings, dispatch: (msg: FromNetwork) => void, blockedReason: () => string | undefined) {
    const shared = new SharedArrayBuffer(8);
    this.counter = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData: NetworkWorkerData = { port: port2, signal: shared, settings };
    // Flags that only make sense for the main script (e.g. --input-type with -e) would break the worker.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    this.worker = new Worker(new URL('./network-worker.js', import.meta.url), { workerData, transferList: [port2], execArgv });
    this.worker.on('error', (e) => dispatch({ t: 'fatal', error: serializeError(e) }));
    let exitReported = false;
    const reportExit = (how: string) => {
      if (this.terminating || exitReported) return;
      exitReported = true;
      dispatch({ t: 'fatal', error: serializeError(new TinkerError(`the network thread exited (${how})`)) });
    };
    this.worker.on('exit', (code) => reportExit(`code ${code}`));
    const dispatchBatch = (batch: FromNetwork[]) => {
      for (const msg of batch) dispatch(msg);
    };
    this.port.on('message', dispatchBatch);
    this.setActive(false);

    const drain = (): number => {
      this.flush(); // a call made just before blocking must reach the network thread first
      let n = 0;
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        n++;
        dispatchBatch(m.message as FromNetwork[]);
      }
      return n;
    };
    const counter = this.counter;
    this.blocker = {
      get unsupportedReason() {
        return blockedReason();
      },
      poll: () => void drain(),
      waitForProgress(timeoutMs: number) {
        // Read the counter before draining: a batch posted after the drain changes it, and
        // Atomics.wait then returns at once instead of sleeping through it.
        const seen = Atomics.load(counter, 0);
        if (drain() > 0) return;
        Atomics.wait(counter, 0, seen, timeoutMs);
        drain();
        // Exiting: its last messages are drained above; what is still pending fails now.
        if (Atomics.load(counter, 1) === 1) reportExit('while a caller was blocked in result()');
      },
    };
  }

  /** Calls made in one synchronous stretch go out as one batch (in call order). */
  post(msg: ToNetwork): void {
    if (msg.t === 'close') this.terminating = true; // the thread exits on its own after this: not a failure
    if (this.outbox.push(msg) === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    this.port.postMessage(batch);
  }

  setActive(active: boolean): void {
    if (active) {
      this.worker.ref();
      this.port.ref();
    } else {
      this.worker.unref();
      this.port.unref();
    }
  }

  async terminate(): Promise<void> {
    this.terminating = true;
    this.flush();
    this.port.close();
    await this.worker.terminate();
  }
}
