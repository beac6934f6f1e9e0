/**
 * The thread behind WalCheckpointer: its own SQLite connection to the server's database, which
 * copies committed WAL pages into the database file every interval. PASSIVE checkpoints never
 * wait for or block the request thread's readers and writers; pages still in use are simply
 * left for the next round.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface WalCheckpointWorkerData {
  file: string;
  intervalMs: number;
}

export type WalCheckpointWorkerMessage = { type: 'ready' } | { type: 'stopped' } | { type: 'error'; message: string };

const { file, intervalMs } = workerData as WalCheckpointWorkerData;
const port = parentPort!;
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');

const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WalCheckpointWorkerMessage);
  }
};
const timer = setInterval(checkpoint, intervalMs);

port.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  port.postMessage({ type: 'stopped' } satisfies WalCheckpointWorkerMessage);
  port.close();
});
port.postMessage({ type: 'ready' } satisfies WalCheckpointWorkerMessage);
