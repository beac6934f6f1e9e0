/**
 * Durable server state in SQLite (better-sqlite3, WAL journal).
 *
 * A future is acknowledged to the client only after its row is committed, and a checkpoint
 * counts as saved only once its row is. With WAL, `synchronous=NORMAL` (the default) already
 * keeps every commit across a crashed or killed process; `syncEveryCommit` selects FULL, which
 * fsyncs the WAL on each commit so commits also survive a power loss or kernel crash, at the
 * price of an fsync on the request path.
 *
 * Times are Unix epoch milliseconds. JSON columns hold JSON text. Each table is a class of its own
 * in store/ (its statements and queries); the Store opens the database and owns transactions.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointsTable } from './store/checkpoints-table.js';
import { CustomLossesTable } from './store/custom-losses-table.js';
import { FuturesTable } from './store/futures-table.js';
import { ModelsTable } from './store/models-table.js';
import { SamplingSessionsTable } from './store/sampling-sessions-table.js';
import { addMissingColumns, SCHEMA } from './store/schema.js';
import { SessionsTable } from './store/sessions-table.js';
import { TrainingMetricsTable } from './store/training-metrics-table.js';

export class Store {
  readonly db: Database.Database;
  readonly sessions: SessionsTable;
  readonly models: ModelsTable;
  readonly futures: FuturesTable;
  readonly checkpoints: CheckpointsTable;
  readonly samplingSessions: SamplingSessionsTable;
  readonly trainingMetrics: TrainingMetricsTable;
  readonly customLosses: CustomLossesTable;
  /** Undo steps for in-memory state changed inside the open transaction, run if it rolls back. */
  private rollbackSteps: Array<() => void> = [];

  constructor(file: string, opts: { syncEveryCommit?: boolean } = {}) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(opts.syncEveryCommit ? 'synchronous = FULL' : 'synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    addMissingColumns(this.db);
    this.sessions = new SessionsTable(this.db);
    this.models = new ModelsTable(this.db, (undo) => this.onRollback(undo));
    this.futures = new FuturesTable(this.db);
    this.checkpoints = new CheckpointsTable(this.db);
    this.samplingSessions = new SamplingSessionsTable(this.db);
    this.trainingMetrics = new TrainingMetricsTable(this.db);
    this.customLosses = new CustomLossesTable(this.db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }


  /**
   * Runs `fn` in one transaction (all-or-nothing, one commit). In-memory state that mirrors rows
   * written inside it registers its undo with `onRollback`, so memory and database roll back
   * together. Nested calls become savepoints of the outer transaction.
   */
  transaction<T>(fn: () => T): T {
    const mark = this.rollbackSteps.length;
    const outermost = !this.db.inTransaction;
    try {
      const result = this.db.transaction(fn)();
      if (outermost) this.rollbackSteps = [];
      return result;
    } catch (err) {
      const undo = this.rollbackSteps.splice(mark);
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      throw err;
    }
  }

  /** Inside a transaction: `undo` runs if it rolls back. Outside one, every write is already committed. */
  onRollback(undo: () => void): void {
    if (this.db.inTransaction) this.rollbackSteps.push(undo);
  }
}
