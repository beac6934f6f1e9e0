/**
 * What the REST routes read: owner-scoped listings over the store's tables, and the mapping
 * from rows to the wire shapes the official SDK validates strictly (ISO timestamps,
 * `model_owner`, `last_request_time`, string-valued metadata).
 */
import type { Checkpoint, TrainingRun } from '@tinker-ts/protocol';
import type Database from 'better-sqlite3';
import type { ServerContext } from '../context.js';
import type { CheckpointKind, CheckpointRow, ModelRow, Store } from '../store.js';
import { toCheckpoint } from '../store.js';
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

export function checkpointView(row: CheckpointRow): Checkpoint {
  return {
    checkpoint_id: `${row.kind}/${row.name}`,
    checkpoint_type: row.kind === 'weights' ? 'training' : 'sampler',
    time: iso(row.created_at),
    tinker_path: formatCheckpointPath({ runId: row.run_id, kind: row.kind, name: row.name }),
    size_bytes: row.size_bytes,
    public: row.public,
    expires_at: row.expires_at !== null ? iso(row.expires_at) : null,
    user_metadata: row.user_metadata,
  };
}

type RawRow = Record<string, unknown>;

/** Queries only the REST surface needs; prepared once on the store's connection. */
export class RestQueries {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(private readonly store: Store) {
    this.stmts = prepare(store.db);
  }

  /** Live (unexpired) checkpoints of a run, oldest first; `publicOnly` for readers who are not the owner. */
  checkpointsOfRun(runId: string, now: number, publicOnly: boolean, limit: number, offset: number): { rows: CheckpointRow[]; total: number } {
    const p = publicOnly ? 1 : 0;
    const rows = (this.stmts.runCheckpoints.all(runId, now, p, limit, offset) as RawRow[]).map(toCheckpoint);
    const total = (this.stmts.countRunCheckpoints.get(runId, now, p) as { n: number }).n;
    return { rows, total };
  }

  /** The user's live checkpoints across runs, newest first. */
  checkpointsOfOwner(owner: string, now: number, limit: number, offset: number): { rows: CheckpointRow[]; total: number } {
    const rows = (this.stmts.ownerCheckpoints.all(owner, now, limit, offset) as RawRow[]).map(toCheckpoint);
    const total = (this.stmts.countOwnerCheckpoints.get(owner, now) as { n: number }).n;
    return { rows, total };
  }

  latestCheckpoint(runId: string, kind: CheckpointKind, now: number, publicOnly: boolean): CheckpointRow | null {
    const r = this.stmts.latestCheckpoint.get(runId, kind, now, publicOnly ? 1 : 0) as RawRow | undefined;
    return r ? toCheckpoint(r) : null;
  }

  hasPublicCheckpoint(runId: string, now: number): boolean {
    return this.stmts.anyPublic.get(runId, now) !== undefined;
  }

  /** The user's training runs, newest first; optionally only those of sessions in `projectId`. */
  runsOfOwner(owner: string, projectId: string | null, limit: number, offset: number): { ids: string[]; total: number } {
    const ids = (this.stmts.ownerRuns.all(owner, projectId, projectId, limit, offset) as Array<{ model_id: string }>).map((r) => r.model_id);
    const total = (this.stmts.countOwnerRuns.get(owner, projectId, projectId) as { n: number }).n;
    return { ids, total };
  }

  setSessionProject(sessionId: string, projectId: string): void {
    this.stmts.setSessionProject.run(projectId, sessionId);
  }
}

const LIVE = '(expires_at IS NULL OR expires_at > ?)';

function prepare(db: Database.Database) {
  return {
    runCheckpoints: db.prepare(
      `SELECT * FROM checkpoints WHERE run_id = ? AND ${LIVE} AND (public = 1 OR ? = 0)
       ORDER BY created_at, kind, name LIMIT ? OFFSET ?`,
    ),
    countRunCheckpoints: db.prepare(`SELECT COUNT(*) AS n FROM checkpoints WHERE run_id = ? AND ${LIVE} AND (public = 1 OR ? = 0)`),
    ownerCheckpoints: db.prepare(
      `SELECT * FROM checkpoints WHERE owner = ? AND ${LIVE} ORDER BY created_at DESC, run_id, kind, name LIMIT ? OFFSET ?`,
    ),
    countOwnerCheckpoints: db.prepare(`SELECT COUNT(*) AS n FROM checkpoints WHERE owner = ? AND ${LIVE}`),
    latestCheckpoint: db.prepare(
      `SELECT * FROM checkpoints WHERE run_id = ? AND kind = ? AND ${LIVE} AND (public = 1 OR ? = 0)
       ORDER BY created_at DESC, name DESC LIMIT 1`,
    ),
    anyPublic: db.prepare(`SELECT 1 FROM checkpoints WHERE run_id = ? AND public = 1 AND ${LIVE} LIMIT 1`),
    ownerRuns: db.prepare(
      `SELECT m.model_id FROM models m LEFT JOIN sessions s ON s.session_id = m.session_id
       WHERE m.owner = ? AND (? IS NULL OR s.project_id = ?)
       ORDER BY m.created_at DESC, m.model_id LIMIT ? OFFSET ?`,
    ),
    countOwnerRuns: db.prepare(
      `SELECT COUNT(*) AS n FROM models m LEFT JOIN sessions s ON s.session_id = m.session_id
       WHERE m.owner = ? AND (? IS NULL OR s.project_id = ?)`,
    ),
    setSessionProject: db.prepare(`UPDATE sessions SET project_id = ? WHERE session_id = ?`),
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
    last_checkpoint: last ? checkpointView(last) : null,
    last_sampler_checkpoint: lastSampler ? checkpointView(lastSampler) : null,
    user_metadata: stringMetadata(model.user_metadata),
  };
}
