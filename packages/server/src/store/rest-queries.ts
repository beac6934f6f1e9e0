// The queries only the REST surface needs (owner-scoped listings over several tables, live
// checkpoints), prepared once on the store's connection.
import type Database from 'better-sqlite3';
import type { Store } from '../store.js';
import { toCheckpoint, type CheckpointKind, type CheckpointRow } from './rows.js';

type RawRow = Record<string, unknown>;

/** Queries only the REST surface needs; prepared once on the store's connection. */
export class RestQueries {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(store: Store) {
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

  /**
   * Every live checkpoint of the user, newest first, with its run's base model and its
   * session's project (what checkpoint search and storage usage filter and group by).
   */
  checkpointsWithRunOf(owner: string, now: number): Array<{ row: CheckpointRow; baseModel: string | null; projectId: string | null }> {
    return (this.stmts.ownerCheckpointsWithRun.all(owner, now) as RawRow[]).map((r) => ({
      row: toCheckpoint(r),
      baseModel: (r['run_base_model'] as string | null) ?? null,
      projectId: (r['run_project_id'] as string | null) ?? null,
    }));
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
    ownerCheckpointsWithRun: db.prepare(
      `SELECT c.*, m.base_model AS run_base_model, s.project_id AS run_project_id FROM checkpoints c
       LEFT JOIN models m ON m.model_id = c.run_id LEFT JOIN sessions s ON s.session_id = m.session_id
       WHERE c.owner = ? AND (c.expires_at IS NULL OR c.expires_at > ?)
       ORDER BY c.created_at DESC, c.run_id DESC, c.kind DESC, c.name DESC`,
    ),
  };
}
