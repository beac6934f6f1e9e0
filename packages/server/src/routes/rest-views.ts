/**
 * What the REST routes show: the mapping from rows (read with store/rest-queries.ts) to the wire shapes the official SDK validates strictly (ISO timestamps,
 * `model_owner`, `last_request_time`, string-valued metadata).
 */
import type { Checkpoint, TrainingRun } from '@tinker-ts/protocol';
import type { ServerContext } from '../context.js';
import type { RestQueries } from '../store/rest-queries.js';
import type { CheckpointRow, ModelRow } from '../store/rows.js';
import { formatCheckpointPath } from '../tinker-paths.js';

/** Metadata on the wire is `dict[str, str]`; other JSON values are shown as their JSON text. */
export function stringMetadata(meta: Record<string, unknown> | null): Record<string, string> | null {
  if (!meta) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/** The last instant Python's datetime (which the official SDK parses these into) can hold. */
const LAST_ISO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A stored time as ISO 8601. Clamped to years 0000–9999, so a row written with an absurd
 * expiry (before TTLs were bounded) is shown as "far future" instead of failing the listing.
 */
export function iso(ms: number): string {
  const t = Number.isFinite(ms) ? Math.min(Math.max(ms, 0), LAST_ISO_MS) : LAST_ISO_MS;
  return new Date(t).toISOString();
}

/** A checkpoint as the wire shows it; `baseModel` is its run's (null when the run is gone). */
export function checkpointView(row: CheckpointRow, baseModel: string | null): Checkpoint {
  return {
    checkpoint_id: `${row.kind}/${row.name}`,
    checkpoint_type: row.kind === 'weights' ? 'training' : 'sampler',
    time: iso(row.created_at),
    tinker_path: formatCheckpointPath({ runId: row.run_id, kind: row.kind, name: row.name }),
    size_bytes: row.size_bytes,
    public: row.public,
    expires_at: row.expires_at !== null ? iso(row.expires_at) : null,
    user_metadata: row.user_metadata,
    base_model: baseModel,
  };
}

/** A training run as the wire shows it; a reader who is not the owner sees only public checkpoints. */
export function trainingRunView(ctx: ServerContext, q: RestQueries, model: ModelRow, publicOnly: boolean): TrainingRun {
  const now = ctx.clock();
  const last = q.latestCheckpoint(model.model_id, 'weights', now, publicOnly);
  const lastSampler = q.latestCheckpoint(model.model_id, 'sampler_weights', now, publicOnly);
  return {
    training_run_id: model.model_id,
    base_model: model.base_model,
    model_owner: model.owner,
    is_lora: true,
    // A model whose creation failed never holds usable weights.
    corrupted: model.state === 'failed',
    lora_rank: model.lora_rank,
    last_request_time: iso(model.last_request_time),
    last_checkpoint: last ? checkpointView(last, model.base_model) : null,
    last_sampler_checkpoint: lastSampler ? checkpointView(lastSampler, model.base_model) : null,
    user_metadata: stringMetadata(model.user_metadata),
  };
}
