/**
 * Durable server state in SQLite (better-sqlite3, WAL journal).
 *
 * A future is acknowledged to the client only after its row is committed, and a checkpoint
 * counts as saved only once its row is. With WAL, `synchronous=NORMAL` (the default) already
 * keeps every commit across a crashed or killed process; `syncEveryCommit` selects FULL, which
 * fsyncs the WAL on each commit so commits also survive a power loss or kernel crash, at the
 * price of an fsync on the request path.
 *
 * Times are Unix epoch milliseconds. JSON columns hold JSON text.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type ModelState = 'creating' | 'active' | 'lost' | 'unloaded' | 'failed';
/**
 * 'running' exists in memory only (FutureRegistry): SQLite rows go pending → done | failed, and
 * after a restart pending and running futures are failed alike.
 */
export type FutureState = 'pending' | 'running' | 'done' | 'failed';
export type CheckpointKind = 'weights' | 'sampler_weights';

export interface SessionRow {
  session_id: string;
  owner: string;
  tags: string[];
  user_metadata: Record<string, unknown> | null;
  sdk_version: string | null;
  project_id: string | null;
  created_at: number;
  last_heartbeat: number;
  finished_at: number | null;
}

export interface LoraSettingsRow {
  lora_rank: number;
  lora_seed: number | null;
  train_mlp: boolean;
  train_attn: boolean;
  train_unembed: boolean;
}

export interface ModelRow extends LoraSettingsRow {
  model_id: string;
  owner: string;
  session_id: string;
  model_seq_id: number;
  base_model: string;
  user_metadata: Record<string, unknown> | null;
  created_at: number;
  last_request_time: number;
  state: ModelState;
  /** Why the model is not active (shown to the user), else null. */
  state_reason: string | null;
}

export interface FutureRow {
  request_id: string;
  owner: string;
  model_id: string | null;
  /** The ordering/dedup scope: a model id or a sampling session id. */
  queue_key: string | null;
  seq_id: number | null;
  kind: string;
  request_hash: string;
  state: FutureState;
  /** JSON result, for kinds without a protobuf form. */
  result_json: string | null;
  /** Protobuf result (forward_backward / forward / sample): 4 bytes a float instead of ~20 in JSON. */
  result_bytes: Uint8Array | null;
  error: string | null;
  category: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Extra JSON returned with the acknowledgement (e.g. sample_sequence_ids). */
  ack_json: string | null;
}

export interface CheckpointRow {
  run_id: string;
  kind: CheckpointKind;
  name: string;
  owner: string;
  /** Absolute directory on disk. */
  path: string;
  size_bytes: number;
  created_at: number;
  expires_at: number | null;
  public: boolean;
  user_metadata: Record<string, string> | null;
}

export interface SamplingSessionRow {
  sampling_session_id: string;
  owner: string;
  session_id: string | null;
  seq_id: number | null;
  base_model: string;
  /** tinker:// path it samples from, if any. */
  model_path: string | null;
  /** Directory with the sampler (PEFT) weights, or null for the base model. */
  sampler_dir: string | null;
  /** Whether sampler_dir belongs to this session alone (deleted with it). */
  ephemeral: boolean;
  created_at: number;
  /** Last save or sample (ephemeral weights unused for long are deleted); may lag by a minute. */
  last_used_at: number;
  /** When its ephemeral weights were deleted (the session then answers 404), else null. */
  released_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  tags TEXT NOT NULL,
  user_metadata TEXT,
  sdk_version TEXT,
  project_id TEXT,
  created_at INTEGER NOT NULL,
  last_heartbeat INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_owner ON sessions(owner, created_at);

CREATE TABLE IF NOT EXISTS models (
  model_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  session_id TEXT NOT NULL,
  model_seq_id INTEGER NOT NULL,
  base_model TEXT NOT NULL,
  lora_rank INTEGER NOT NULL,
  lora_seed INTEGER,
  train_mlp INTEGER NOT NULL,
  train_attn INTEGER NOT NULL,
  train_unembed INTEGER NOT NULL,
  user_metadata TEXT,
  created_at INTEGER NOT NULL,
  last_request_time INTEGER NOT NULL,
  state TEXT NOT NULL,
  state_reason TEXT
);
CREATE INDEX IF NOT EXISTS models_owner ON models(owner, created_at);
CREATE INDEX IF NOT EXISTS models_session ON models(session_id);

CREATE TABLE IF NOT EXISTS futures (
  request_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  model_id TEXT,
  queue_key TEXT,
  seq_id INTEGER,
  kind TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  result_json TEXT,
  result_bytes BLOB,
  error TEXT,
  category TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  ack_json TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS futures_queue_seq ON futures(queue_key, seq_id)
  WHERE queue_key IS NOT NULL AND seq_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS futures_state ON futures(state);
CREATE INDEX IF NOT EXISTS futures_model ON futures(model_id, state);
CREATE INDEX IF NOT EXISTS futures_finished ON futures(finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS checkpoints (
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  owner TEXT NOT NULL,
  path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  public INTEGER NOT NULL DEFAULT 0,
  user_metadata TEXT,
  PRIMARY KEY (run_id, kind, name)
);
CREATE INDEX IF NOT EXISTS checkpoints_owner ON checkpoints(owner, created_at);
CREATE INDEX IF NOT EXISTS checkpoints_expiry ON checkpoints(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS sampling_sessions (
  sampling_session_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  session_id TEXT,
  seq_id INTEGER,
  base_model TEXT NOT NULL,
  model_path TEXT,
  sampler_dir TEXT,
  ephemeral INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  released_at INTEGER
);
CREATE INDEX IF NOT EXISTS sampling_sessions_session ON sampling_sessions(session_id);
`;

type Raw = Record<string, unknown>;

function isLive(m: Pick<ModelRow, 'state'>): boolean {
  return m.state === 'creating' || m.state === 'active';
}

function parseJson<T>(text: unknown): T | null {
  return typeof text === 'string' ? (JSON.parse(text) as T) : null;
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function toSession(r: Raw): SessionRow {
  return {
    session_id: r.session_id as string,
    owner: r.owner as string,
    tags: parseJson<string[]>(r.tags) ?? [],
    user_metadata: parseJson(r.user_metadata),
    sdk_version: (r.sdk_version as string | null) ?? null,
    project_id: (r.project_id as string | null) ?? null,
    created_at: r.created_at as number,
    last_heartbeat: r.last_heartbeat as number,
    finished_at: (r.finished_at as number | null) ?? null,
  };
}

function toModel(r: Raw): ModelRow {
  return {
    model_id: r.model_id as string,
    owner: r.owner as string,
    session_id: r.session_id as string,
    model_seq_id: r.model_seq_id as number,
    base_model: r.base_model as string,
    lora_rank: r.lora_rank as number,
    lora_seed: (r.lora_seed as number | null) ?? null,
    train_mlp: r.train_mlp === 1,
    train_attn: r.train_attn === 1,
    train_unembed: r.train_unembed === 1,
    user_metadata: parseJson(r.user_metadata),
    created_at: r.created_at as number,
    last_request_time: r.last_request_time as number,
    state: r.state as ModelState,
    state_reason: (r.state_reason as string | null) ?? null,
  };
}

/** A checkpoints row as read from SQLite (also used by the REST listing queries). */
export function toCheckpoint(r: Record<string, unknown>): CheckpointRow {
  return {
    run_id: r.run_id as string,
    kind: r.kind as CheckpointKind,
    name: r.name as string,
    owner: r.owner as string,
    path: r.path as string,
    size_bytes: r.size_bytes as number,
    created_at: r.created_at as number,
    expires_at: (r.expires_at as number | null) ?? null,
    public: r.public === 1,
    user_metadata: parseJson(r.user_metadata),
  };
}

function toSamplingSession(r: Raw): SamplingSessionRow {
  return {
    sampling_session_id: r.sampling_session_id as string,
    owner: r.owner as string,
    session_id: (r.session_id as string | null) ?? null,
    seq_id: (r.seq_id as number | null) ?? null,
    base_model: r.base_model as string,
    model_path: (r.model_path as string | null) ?? null,
    sampler_dir: (r.sampler_dir as string | null) ?? null,
    ephemeral: r.ephemeral === 1,
    created_at: r.created_at as number,
    last_used_at: (r.last_used_at as number | null) ?? (r.created_at as number),
    released_at: (r.released_at as number | null) ?? null,
  };
}

export interface NewFuture {
  request_id: string;
  owner: string;
  model_id: string | null;
  queue_key: string | null;
  seq_id: number | null;
  kind: string;
  request_hash: string;
  ack_json?: string | null;
}

/** Columns added after the first schema; data dirs from before get them on open. */
function addMissingColumns(db: Database.Database): void {
  const have = new Set((db.prepare(`PRAGMA table_info(futures)`).all() as Array<{ name: string }>).map((c) => c.name));
  if (!have.has('result_bytes')) db.exec(`ALTER TABLE futures ADD COLUMN result_bytes BLOB`);
  const sampling = new Set((db.prepare(`PRAGMA table_info(sampling_sessions)`).all() as Array<{ name: string }>).map((c) => c.name));
  if (!sampling.has('last_used_at')) {
    db.exec(`ALTER TABLE sampling_sessions ADD COLUMN last_used_at INTEGER`);
    db.exec(`UPDATE sampling_sessions SET last_used_at = created_at`);
  }
  if (!sampling.has('released_at')) db.exec(`ALTER TABLE sampling_sessions ADD COLUMN released_at INTEGER`);
  db.exec(`CREATE INDEX IF NOT EXISTS sampling_sessions_ephemeral ON sampling_sessions(last_used_at)
           WHERE ephemeral = 1 AND released_at IS NULL`);
}

function prepareStatements(db: Database.Database) {
  return {
    insertSession: db.prepare(
      `INSERT INTO sessions (session_id, owner, tags, user_metadata, sdk_version, project_id, created_at, last_heartbeat)
       VALUES (@session_id, @owner, @tags, @user_metadata, @sdk_version, @project_id, @now, @now)`,
    ),
    getSession: db.prepare(`SELECT * FROM sessions WHERE session_id = ?`),
    touchSession: db.prepare(`UPDATE sessions SET last_heartbeat = ? WHERE session_id = ?`),
    finishSession: db.prepare(`UPDATE sessions SET finished_at = ? WHERE session_id = ? AND finished_at IS NULL`),
    listSessions: db.prepare(`SELECT * FROM sessions WHERE owner = ? ORDER BY created_at DESC, session_id LIMIT ? OFFSET ?`),
    countSessions: db.prepare(`SELECT COUNT(*) AS n FROM sessions WHERE owner = ?`),
    idleSessions: db.prepare(
      `SELECT s.* FROM sessions s WHERE s.finished_at IS NULL
         AND MAX(s.last_heartbeat, COALESCE((SELECT MAX(m.last_request_time) FROM models m WHERE m.session_id = s.session_id), 0)) < ?
         AND EXISTS (SELECT 1 FROM models m WHERE m.session_id = s.session_id AND m.state IN ('creating', 'active'))
         AND NOT EXISTS (SELECT 1 FROM futures f JOIN models m ON f.model_id = m.model_id
                         WHERE m.session_id = s.session_id AND f.state IN ('pending', 'running'))`,
    ),

    insertModel: db.prepare(
      `INSERT INTO models (model_id, owner, session_id, model_seq_id, base_model, lora_rank, lora_seed, train_mlp, train_attn,
         train_unembed, user_metadata, created_at, last_request_time, state, state_reason)
       VALUES (@model_id, @owner, @session_id, @model_seq_id, @base_model, @lora_rank, @lora_seed, @train_mlp, @train_attn,
         @train_unembed, @user_metadata, @now, @now, @state, NULL)`,
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

    insertFuture: db.prepare(
      `INSERT INTO futures (request_id, owner, model_id, queue_key, seq_id, kind, request_hash, state, created_at, ack_json)
       VALUES (@request_id, @owner, @model_id, @queue_key, @seq_id, @kind, @request_hash, 'pending', @now, @ack_json)`,
    ),
    getFuture: db.prepare(`SELECT * FROM futures WHERE request_id = ?`),
    getFutureBySeq: db.prepare(`SELECT * FROM futures WHERE queue_key = ? AND seq_id = ?`),
    maxSeq: db.prepare(`SELECT MAX(seq_id) AS m FROM futures WHERE queue_key = ?`),
    completeFuture: db.prepare(
      `UPDATE futures SET state = 'done', result_json = ?, result_bytes = ?, finished_at = ? WHERE request_id = ? AND state IN ('pending', 'running')`,
    ),
    failFuture: db.prepare(
      `UPDATE futures SET state = 'failed', error = ?, category = ?, finished_at = ? WHERE request_id = ? AND state IN ('pending', 'running')`,
    ),
    deleteFinishedBefore: db.prepare(`DELETE FROM futures WHERE finished_at IS NOT NULL AND finished_at < ?`),
    failUnfinished: db.prepare(
      `UPDATE futures SET state = 'failed', error = ?, category = 'server', finished_at = ? WHERE state IN ('pending', 'running')`,
    ),

    upsertCheckpoint: db.prepare(
      `INSERT INTO checkpoints (run_id, kind, name, owner, path, size_bytes, created_at, expires_at, public, user_metadata)
       VALUES (@run_id, @kind, @name, @owner, @path, @size_bytes, @created_at, @expires_at, @public, @user_metadata)
       ON CONFLICT (run_id, kind, name) DO UPDATE SET path = excluded.path, size_bytes = excluded.size_bytes,
         created_at = excluded.created_at, expires_at = excluded.expires_at, user_metadata = excluded.user_metadata`,
    ),
    getCheckpoint: db.prepare(`SELECT * FROM checkpoints WHERE run_id = ? AND kind = ? AND name = ?`),
    deleteCheckpoint: db.prepare(`DELETE FROM checkpoints WHERE run_id = ? AND kind = ? AND name = ?`),
    expiredCheckpoints: db.prepare(`SELECT * FROM checkpoints WHERE expires_at IS NOT NULL AND expires_at <= ?`),
    checkpointsOfRun: db.prepare(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY created_at, kind, name`),
    checkpointsOfOwner: db.prepare(
      `SELECT * FROM checkpoints WHERE owner = ? ORDER BY created_at DESC, run_id, kind, name LIMIT ? OFFSET ?`,
    ),
    countCheckpointsOfOwner: db.prepare(`SELECT COUNT(*) AS n FROM checkpoints WHERE owner = ?`),
    lastCheckpointOfRun: db.prepare(
      `SELECT * FROM checkpoints WHERE run_id = ? AND kind = ? ORDER BY created_at DESC, name DESC LIMIT 1`,
    ),
    setCheckpointPublic: db.prepare(`UPDATE checkpoints SET public = ? WHERE run_id = ? AND kind = ? AND name = ?`),
    setCheckpointExpiry: db.prepare(`UPDATE checkpoints SET expires_at = ? WHERE run_id = ? AND kind = ? AND name = ?`),

    insertSamplingSession: db.prepare(
      `INSERT INTO sampling_sessions (sampling_session_id, owner, session_id, seq_id, base_model, model_path, sampler_dir, ephemeral,
         created_at, last_used_at)
       VALUES (@sampling_session_id, @owner, @session_id, @seq_id, @base_model, @model_path, @sampler_dir, @ephemeral, @now, @now)`,
    ),
    touchSamplingSession: db.prepare(`UPDATE sampling_sessions SET last_used_at = ? WHERE sampling_session_id = ?`),
    releaseSamplingSession: db.prepare(
      `UPDATE sampling_sessions SET released_at = ? WHERE sampling_session_id = ? AND released_at IS NULL`,
    ),
    ephemeralToRelease: db.prepare(
      `SELECT ss.* FROM sampling_sessions ss LEFT JOIN sessions s ON s.session_id = ss.session_id
       WHERE ss.ephemeral = 1 AND ss.released_at IS NULL
         AND (ss.last_used_at < @idleBefore OR s.session_id IS NULL OR s.finished_at IS NOT NULL)`,
    ),
    liveEphemeralDirs: db.prepare(
      `SELECT sampler_dir FROM sampling_sessions WHERE ephemeral = 1 AND released_at IS NULL AND sampler_dir IS NOT NULL`,
    ),
    getSamplingSession: db.prepare(`SELECT * FROM sampling_sessions WHERE sampling_session_id = ?`),
    samplingSessionsOfSession: db.prepare(
      `SELECT * FROM sampling_sessions WHERE session_id = ? ORDER BY created_at, sampling_session_id`,
    ),
  };
}
type Statements = ReturnType<typeof prepareStatements>;

export class Store {
  readonly db: Database.Database;
  private readonly stmts: Statements;
  /**
   * Rows of live models (creating or active) by id, written through on every change: every model
   * request reads its model row (ownership, state), and only this Store writes the table. Rows
   * are frozen so no caller can change a cached row behind the database's back. An unloaded,
   * failed or lost model leaves the cache, so it stays the size of what the engine holds.
   */
  private readonly modelCache = new Map<string, Readonly<ModelRow>>();
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
    this.stmts = prepareStatements(this.db);
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

  // ------------------------------------------------------------------ sessions

  insertSession(s: {
    session_id: string;
    owner: string;
    tags: string[];
    user_metadata: Record<string, unknown> | null;
    sdk_version: string | null;
    project_id: string | null;
    now: number;
  }): void {
    this.stmts.insertSession.run({ ...s, tags: JSON.stringify(s.tags), user_metadata: jsonOrNull(s.user_metadata) });
  }

  getSession(sessionId: string): SessionRow | null {
    const r = this.stmts.getSession.get(sessionId) as Raw | undefined;
    return r ? toSession(r) : null;
  }

  touchSession(sessionId: string, now: number): void {
    this.stmts.touchSession.run(now, sessionId);
  }

  finishSession(sessionId: string, now: number): void {
    this.stmts.finishSession.run(now, sessionId);
  }

  /**
   * Unfinished sessions with live models, no work in flight, and neither a heartbeat nor a
   * model request since `before`.
   */
  idleSessions(before: number): SessionRow[] {
    return (this.stmts.idleSessions.all(before) as Raw[]).map(toSession);
  }

  listSessions(owner: string, limit: number, offset: number): { rows: SessionRow[]; total: number } {
    const rows = (this.stmts.listSessions.all(owner, limit, offset) as Raw[]).map(toSession);
    const total = (this.stmts.countSessions.get(owner) as { n: number }).n;
    return { rows, total };
  }

  // ------------------------------------------------------------------ models

  insertModel(m: Omit<ModelRow, 'created_at' | 'last_request_time' | 'state_reason'> & { now: number }): void {
    const { now, ...fields } = m;
    const row: ModelRow = { ...fields, created_at: now, last_request_time: now, state_reason: null };
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
  getModel(modelId: string): Readonly<ModelRow> | null {
    const cached = this.modelCache.get(modelId);
    if (cached) return cached;
    const r = this.stmts.getModel.get(modelId) as Raw | undefined;
    if (!r) return null;
    const row = Object.freeze(toModel(r));
    if (isLive(row)) this.modelCache.set(modelId, row);
    return row;
  }

  setModelState(modelId: string, state: ModelState, reason: string | null = null): void {
    if (this.stmts.setModelState.run(state, reason, modelId).changes === 0) return;
    const row = this.modelCache.get(modelId);
    if (row) this.cacheModel(modelId, { ...row, state, state_reason: reason });
  }

  touchModel(modelId: string, now: number): void {
    if (this.stmts.touchModel.run(now, modelId).changes === 0) return;
    const row = this.modelCache.get(modelId);
    if (row) this.cacheModel(modelId, { ...row, last_request_time: now });
  }

  /** At startup: adapters live only in engine memory, so every live model is gone. */
  loseLiveModels(reason: string): number {
    const changes = this.stmts.loseLiveModels.run(reason).changes;
    this.modelCache.clear();
    return changes;
  }

  listModels(owner: string, limit: number, offset: number): { rows: ModelRow[]; total: number } {
    const rows = (this.stmts.listModels.all(owner, limit, offset) as Raw[]).map(toModel);
    const total = (this.stmts.countModels.get(owner) as { n: number }).n;
    return { rows, total };
  }

  modelsOfSession(sessionId: string): ModelRow[] {
    return (this.stmts.modelsOfSession.all(sessionId) as Raw[]).map(toModel);
  }

  // ------------------------------------------------------------------ futures

  insertFuture(f: NewFuture, now: number): void {
    this.stmts.insertFuture.run({ ...f, ack_json: f.ack_json ?? null, now });
  }

  getFuture(requestId: string): FutureRow | null {
    return (this.stmts.getFuture.get(requestId) as FutureRow | undefined) ?? null;
  }

  getFutureBySeq(queueKey: string, seqId: number): FutureRow | null {
    return (this.stmts.getFutureBySeq.get(queueKey, seqId) as FutureRow | undefined) ?? null;
  }

  /** Highest seq_id ever submitted in a queue, or null. */
  maxSeq(queueKey: string): number | null {
    return (this.stmts.maxSeq.get(queueKey) as { m: number | null }).m;
  }

  /** Stores a result (JSON text or protobuf bytes). False if the future had already finished (e.g. cancelled). */
  completeFuture(requestId: string, result: { json: string } | { bytes: Uint8Array }, now: number): boolean {
    const json = 'json' in result ? result.json : null;
    const bytes = 'bytes' in result ? Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength) : null;
    return this.stmts.completeFuture.run(json, bytes, now, requestId).changes === 1;
  }

  failFuture(requestId: string, error: string, category: string, now: number): boolean {
    return this.stmts.failFuture.run(error, category, now, requestId).changes === 1;
  }

  /** Forgets results finished before `before` (their request ids then answer 404). */
  deleteFinishedFuturesBefore(before: number): number {
    return this.stmts.deleteFinishedBefore.run(before).changes;
  }

  /** At startup: what was queued or running when the process died can never finish. */
  failUnfinishedFutures(error: string, now: number): number {
    return this.stmts.failUnfinished.run(error, now).changes;
  }

  // ------------------------------------------------------------------ checkpoints

  upsertCheckpoint(c: CheckpointRow): void {
    this.stmts.upsertCheckpoint.run({
      ...c,
      public: c.public ? 1 : 0,
      user_metadata: jsonOrNull(c.user_metadata),
    });
  }

  getCheckpoint(runId: string, kind: CheckpointKind, name: string): CheckpointRow | null {
    const r = this.stmts.getCheckpoint.get(runId, kind, name) as Raw | undefined;
    return r ? toCheckpoint(r) : null;
  }

  deleteCheckpoint(runId: string, kind: CheckpointKind, name: string): boolean {
    return this.stmts.deleteCheckpoint.run(runId, kind, name).changes === 1;
  }

  expiredCheckpoints(now: number): CheckpointRow[] {
    return (this.stmts.expiredCheckpoints.all(now) as Raw[]).map(toCheckpoint);
  }

  checkpointsOfRun(runId: string): CheckpointRow[] {
    return (this.stmts.checkpointsOfRun.all(runId) as Raw[]).map(toCheckpoint);
  }

  checkpointsOfOwner(owner: string, limit: number, offset: number): { rows: CheckpointRow[]; total: number } {
    const rows = (this.stmts.checkpointsOfOwner.all(owner, limit, offset) as Raw[]).map(toCheckpoint);
    const total = (this.stmts.countCheckpointsOfOwner.get(owner) as { n: number }).n;
    return { rows, total };
  }

  lastCheckpointOfRun(runId: string, kind: CheckpointKind): CheckpointRow | null {
    const r = this.stmts.lastCheckpointOfRun.get(runId, kind) as Raw | undefined;
    return r ? toCheckpoint(r) : null;
  }

  setCheckpointPublic(runId: string, kind: CheckpointKind, name: string, isPublic: boolean): boolean {
    return this.stmts.setCheckpointPublic.run(isPublic ? 1 : 0, runId, kind, name).changes === 1;
  }

  setCheckpointExpiry(runId: string, kind: CheckpointKind, name: string, expiresAt: number | null): boolean {
    return this.stmts.setCheckpointExpiry.run(expiresAt, runId, kind, name).changes === 1;
  }

  // ------------------------------------------------------------------ sampling sessions

  insertSamplingSession(s: Omit<SamplingSessionRow, 'created_at' | 'last_used_at' | 'released_at'> & { now: number }): void {
    this.stmts.insertSamplingSession.run({ ...s, ephemeral: s.ephemeral ? 1 : 0 });
  }

  getSamplingSession(id: string): SamplingSessionRow | null {
    const r = this.stmts.getSamplingSession.get(id) as Raw | undefined;
    return r ? toSamplingSession(r) : null;
  }

  samplingSessionsOfSession(sessionId: string): SamplingSessionRow[] {
    return (this.stmts.samplingSessionsOfSession.all(sessionId) as Raw[]).map(toSamplingSession);
  }

  touchSamplingSession(id: string, now: number): void {
    this.stmts.touchSamplingSession.run(now, id);
  }

  /** Records that a sampling session's ephemeral weights were deleted; false if they already were. */
  releaseSamplingSession(id: string, now: number): boolean {
    return this.stmts.releaseSamplingSession.run(now, id).changes === 1;
  }

  /** Ephemeral sampler weights still on disk whose session ended, or unused since `idleBefore`. */
  ephemeralSamplersToRelease(idleBefore: number): SamplingSessionRow[] {
    return (this.stmts.ephemeralToRelease.all({ idleBefore }) as Raw[]).map(toSamplingSession);
  }

  /** Directories of every ephemeral sampler weights not yet released. */
  liveEphemeralDirs(): string[] {
    return (this.stmts.liveEphemeralDirs.all() as Array<{ sampler_dir: string }>).map((r) => r.sampler_dir);
  }
}
