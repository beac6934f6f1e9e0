// The training_metrics table: the metrics of every completed forward / forward_backward / optim_step
// of a training run, and the metrics a client reports for a step itself (e.g. RL diagnostics), in
// arrival order. `step` is the optimizer step the record belongs to: the number of optim_steps the
// run had completed before it.
import type Database from 'better-sqlite3';
import type { Raw } from './rows.js';

/** forward / forward_backward / optim_step results; 'reported' = posted by the client. */
export type MetricsKind = 'forward' | 'forward_backward' | 'optim_step' | 'reported';

export interface MetricsRecord {
  /** Increasing in arrival order (a poller asks for ids after the last it saw). */
  id: number;
  model_id: string;
  kind: MetricsKind;
  step: number;
  request_id: string | null;
  seq_id: number | null;
  metrics: Record<string, number>;
  created_at: number;
}

export type NewMetricsRecord = Omit<MetricsRecord, 'id' | 'step'> & { step?: number };

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO training_metrics (model_id, kind, step, request_id, seq_id, metrics, created_at)
       VALUES (@model_id, @kind, @step, @request_id, @seq_id, @metrics, @created_at)`,
    ),
    // The last optim_step's record (index order is (model_id, kind, id)): no scan of the run's history.
    lastOptimStep: db.prepare(`SELECT step FROM training_metrics WHERE model_id = ? AND kind = 'optim_step' ORDER BY id DESC LIMIT 1`),
    ofRun: db.prepare(`SELECT * FROM training_metrics WHERE model_id = ? AND id > ? ORDER BY id LIMIT ?`),
    countOfRun: db.prepare(`SELECT COUNT(*) AS n FROM training_metrics WHERE model_id = ?`),
  };
}

function toRecord(r: Raw): MetricsRecord {
  return {
    id: r.id as number,
    model_id: r.model_id as string,
    kind: r.kind as MetricsKind,
    step: r.step as number,
    request_id: (r.request_id as string | null) ?? null,
    seq_id: (r.seq_id as number | null) ?? null,
    metrics: JSON.parse(r.metrics as string) as Record<string, number>,
    created_at: r.created_at as number,
  };
}

export class TrainingMetricsTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.stmts = prepare(db);
  }

  /** Optimizer steps the run has completed (the step new forward_backward metrics belong to). */
  optimSteps(modelId: string): number {
    const last = this.stmts.lastOptimStep.get(modelId) as { step: number } | undefined;
    return last ? last.step + 1 : 0;
  }

  /** Appends a record; without `step`, it belongs to the run's current optimizer step. */
  insert(r: NewMetricsRecord): void {
    this.stmts.insert.run({
      ...r,
      step: r.step ?? this.optimSteps(r.model_id),
      metrics: JSON.stringify(r.metrics),
    });
  }

  /** Records of a run with id > `afterId`, oldest first. */
  ofRun(modelId: string, afterId: number, limit: number): { rows: MetricsRecord[]; total: number } {
    const rows = (this.stmts.ofRun.all(modelId, afterId, limit) as Raw[]).map(toRecord);
    const total = (this.stmts.countOfRun.get(modelId) as { n: number }).n;
    return { rows, total };
  }
}
