// The tables (created when missing) and the columns later versions added, added to older data dirs.
import type Database from 'better-sqlite3';

export const SCHEMA = `
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
  ack_json TEXT,
  completion_seq INTEGER
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
  released_at INTEGER,
  clients_joined INTEGER
);
CREATE INDEX IF NOT EXISTS sampling_sessions_session ON sampling_sessions(session_id);

CREATE TABLE IF NOT EXISTS training_metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  step INTEGER NOT NULL,
  request_id TEXT,
  seq_id INTEGER,
  metrics TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS training_metrics_run ON training_metrics(model_id, kind);

CREATE TABLE IF NOT EXISTS custom_losses (
  loss_id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  request_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_losses_session ON custom_losses(session_id);
`;


/** Adds the columns and indexes newer versions need to a data dir made by an older one. */
export function addMissingColumns(db: Database.Database): void {
  const have = new Set((db.prepare(`PRAGMA table_info(futures)`).all() as Array<{ name: string }>).map((c) => c.name));
  if (!have.has('result_bytes')) db.exec(`ALTER TABLE futures ADD COLUMN result_bytes BLOB`);
  if (!have.has('completion_seq')) db.exec(`ALTER TABLE futures ADD COLUMN completion_seq INTEGER`);
  db.exec(`CREATE INDEX IF NOT EXISTS futures_queue_completion ON futures(queue_key, completion_seq)
           WHERE completion_seq IS NOT NULL`);
  const sampling = new Set((db.prepare(`PRAGMA table_info(sampling_sessions)`).all() as Array<{ name: string }>).map((c) => c.name));
  if (!sampling.has('last_used_at')) {
    db.exec(`ALTER TABLE sampling_sessions ADD COLUMN last_used_at INTEGER`);
    db.exec(`UPDATE sampling_sessions SET last_used_at = created_at`);
  }
  if (!sampling.has('released_at')) db.exec(`ALTER TABLE sampling_sessions ADD COLUMN released_at INTEGER`);
  if (!sampling.has('clients_joined')) db.exec(`ALTER TABLE sampling_sessions ADD COLUMN clients_joined INTEGER`);
  // The optimizer a model was created with; models from before it was chosen are AdamW.
  const models = new Set((db.prepare(`PRAGMA table_info(models)`).all() as Array<{ name: string }>).map((c) => c.name));
  if (!models.has('optimizer')) db.exec(`ALTER TABLE models ADD COLUMN optimizer TEXT NOT NULL DEFAULT 'adamw'`);
  db.exec(`CREATE INDEX IF NOT EXISTS sampling_sessions_ephemeral ON sampling_sessions(last_used_at)
           WHERE ephemeral = 1 AND released_at IS NULL`);
}
