// The models table: training models (LoRA adapters on a base model), their settings and state,
// with the rows of live models kept in memory.
import type Database from 'better-sqlite3';
import { isLive, jsonOrNull, toModel, type ModelRow, type ModelState, type Raw } from './rows.js';

function prepare(db: Database.Database) {
  return {
    insertModel: db.prepare(
      `INSERT INTO models (model_id, owner, session_id, model_seq_id, base_model, lora_rank, lora_seed, train_mlp, train_attn,
         train_unembed, user_metadata, created_at, last_request_time, state, state_reason, optimizer)
       VALUES (@model_id, @owner, @session_id, @model_seq_id, @base_model, @lora_rank, @lora_seed, @train_mlp, @train_attn,
         @train_unembed, @user_metadata, @now, @now, @state, NULL, @optimizer)`,
    ),
    getModel: db.prepare(`SELECT * FROM models WHERE model_id = ?`),
    setModelState: db.prepare(`UPDATE models SET state = ?, state_reason = ? WHERE model_id = ?`),
    touchModel: db.prepare(`UPDATE models SET last_request_time = ? WHERE model_id = ?`),
    loseLiveModels: db.prepare(
      `UPDATE models SET state = 'lost', state_reason = ? WHERE state IN ('creating', 'active')`,
    ),
    listModels: db.prepare(`SELECT * FROM models WHERE owner = ? ORDER BY created_at DESC, model_id LIMIT ? OFFSET ?`),
    countModels: db.prepare(`SELECT COUNT(*) AS n FROM models WHERE owner = ?`),
    modelsOfSession: db.prepare(`SELECT * FROM models WHERE session_id = ? ORDER BY model_seq_id`),
  };
}

export class ModelsTable {
  private readonly stmts: ReturnType<typeof prepare>;
  /**
   * Rows of live models (creating or active) by id, written through on every change: every model
   * request reads its model row (ownership, state), and only this Store writes the table. Rows
   * are frozen so no caller can change a cached row behind the database's back. An unloaded,
   * failed or lost model leaves the cache, so it stays the size of what the engine holds.
   */
  private readonly modelCache = new Map<string, Readonly<ModelRow>>();

  constructor(db: Database.Database, private readonly onRollback: (undo: () => void) => void) {
    this.stmts = prepare(db);
  }

  /** `optimizer` defaults to AdamW. */
  insert(m: Omit<ModelRow, 'created_at' | 'last_request_time' | 'state_reason' | 'optimizer'> & { now: number; optimizer?: ModelRow['optimizer'] }): void {
    const { now, ...fields } = m;
    const row: ModelRow = { ...fields, optimizer: fields.optimizer ?? 'adamw', created_at: now, last_request_time: now, state_reason: null };
    this.stmts.insertModel.run({
      ...row,
      train_mlp: row.train_mlp ? 1 : 0,
      train_attn: row.train_attn ? 1 : 0,
      train_unembed: row.train_unembed ? 1 : 0,
      user_metadata: jsonOrNull(row.user_metadata),
      now,
    });
    this.cacheModel(row.model_id, row);
  }

  /** The model row (frozen: copy it to change it). */
  get(modelId: string): Readonly<ModelRow> | null {
    const cached = this.modelCache.get(modelId);
    if (cached) return cached;
    const r = this.stmts.getModel.get(modelId) as Raw | undefined;
    if (!r) return null;
    const row = Object.freeze(toModel(r));
    if (isLive(row)) this.modelCache.set(modelId, row);
    return row;
  }

  setState(modelId: string, state: ModelState, reason: string | null = null): void {
    if (this.stmts.setModelState.run(state, reason, modelId).changes === 0) return;
    const row = this.modelCache.get(modelId);
    if (row) this.cacheModel(modelId, { ...row, state, state_reason: reason });
  }

  touch(modelId: string, now: number): void {
    if (this.stmts.touchModel.run(now, modelId).changes === 0) return;
    const row = this.modelCache.get(modelId);
    if (row) this.cacheModel(modelId, { ...row, last_request_time: now });
  }

  /** At startup: adapters live only in engine memory, so every live model is gone. */
  loseLive(reason: string): number {
    const changes = this.stmts.loseLiveModels.run(reason).changes;
    this.modelCache.clear();
    return changes;
  }

  list(owner: string, limit: number, offset: number): { rows: ModelRow[]; total: number } {
    const rows = (this.stmts.listModels.all(owner, limit, offset) as Raw[]).map(toModel);
    const total = (this.stmts.countModels.get(owner) as { n: number }).n;
    return { rows, total };
  }

  ofSession(sessionId: string): ModelRow[] {
    return (this.stmts.modelsOfSession.all(sessionId) as Raw[]).map(toModel);
  }

  /** Caches a model row (or drops it, once not live), undone with the transaction if it rolls back. */
  private cacheModel(modelId: string, row: ModelRow): void {
    const previous = this.modelCache.get(modelId);
    if (isLive(row)) this.modelCache.set(modelId, Object.freeze(row));
    else this.modelCache.delete(modelId);
    this.onRollback(() => {
      if (previous) this.modelCache.set(modelId, previous);
      else this.modelCache.delete(modelId);
    });
  }
}
