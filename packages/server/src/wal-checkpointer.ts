/**
 * WAL checkpoints off the request path. By default SQLite checkpoints inside whichever commit
 * grows the WAL past 1000 pages, so one request in a few hundred pays for copying the pages into
 * the database file (measured: commits stalled up to 20 ms; without, under 2 ms). Here the
 * request connection never checkpoints, and a worker thread with its own connection does it on
 * a timer. Should that thread fail, the request connection checkpoints for itself again, so the
 * WAL never grows without bound.
 */
import { Worker } from 'node:worker_threads';
import type { Store } from './store.js';
import type { WalCheckpointWorkerData, WalCheckpointWorkerMessage } from './wal-checkpoint-worker.js';

/** SQLite's default: checkpoint when a commit leaves the WAL at this many pages or more. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/** How long stop() waits for the worker's last checkpoint before terminating it. */
const STOP_TIMEOUT_MS = 5_000;

export class WalCheckpointer {
  private stopped = false;
  private failed = false;

  private constructor(
    private readonly store: Store,
    private readonly worker: Worker,
    private readonly log: (line: string) => void,
  ) {
    worker.on('message', (msg: WalCheckpointWorkerMessage) => {
      if (msg.type === 'error') this.log(`WAL checkpoint failed (will retry): ${msg.message}`);
    });
    worker.on('error', (err) => this.fallBack(`WAL checkpoint thread failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.stopped) this.fallBack(`WAL checkpoint thread exited with code ${code}`);
    });
    // The timer thread never keeps the process alive on its own.
    worker.unref();
  }

  /** Starts checkpointing `file` (the store's database) every `intervalMs` from a worker thread. */
  static start(store: Store, file: string, intervalMs: number, log: (line: string) => void = () => {}): WalCheckpointer {
    store.db.pragma('wal_autocheckpoint = 0');
    const worker = new Worker(new URL('./wal-checkpoint-worker.js', import.meta.url), {
      workerData: { file, intervalMs } satisfies WalCheckpointWorkerData,
    });
    return new WalCheckpointer(store, worker, log);
  }

  /** Whether checkpoints went back to the request connection because the worker failed. */
  get fellBack(): boolean {
    return this.failed;
  }

  /** Runs a last checkpoint and stops the worker. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.failed) return;
    this.worker.ref();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private fallBack(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.log(`${reason}; SQLite checkpoints on commit again`);
    if (this.store.db.open) this.store.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
  }
}
