// The rows of the server's tables as the rest of the server sees them, and their conversions from
// SQLite's columns (JSON text, 0/1 booleans). Times are Unix epoch milliseconds.
import type { OptimizerKind } from '@tinker-ts/protocol';

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
  /** Chosen at creation (create_model's optimizer_config), fixed for the model's life. */
  optimizer: OptimizerKind;
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

/** A row as better-sqlite3 returns it. */
export type Raw = Record<string, unknown>;

export function isLive(m: Pick<ModelRow, 'state'>): boolean {
  return m.state === 'creating' || m.state === 'active';
}

function parseJson<T>(text: unknown): T | null {
  return typeof text === 'string' ? (JSON.parse(text) as T) : null;
}

export function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

export function toSession(r: Raw): SessionRow {
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

export function toModel(r: Raw): ModelRow {
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
    optimizer: (r.optimizer as OptimizerKind | null) ?? 'adamw',
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

export function toSamplingSession(r: Raw): SamplingSessionRow {
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
