// The checkpoints table: saved weights and sampler weights, with owner, size, expiry and visibility.
import type Database from 'better-sqlite3';
import { jsonOrNull, toCheckpoint, type CheckpointKind, type CheckpointRow, type Raw } from './rows.js';

function prepare(db: Database.Database) {
  return {
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
  };
}

export class CheckpointsTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.stmts = prepare(db);
  }

  upsert(c: CheckpointRow): void {
    this.stmts.upsertCheckpoint.run({
      ...c,
      public: c.public ? 1 : 0,
      user_metadata: jsonOrNull(c.user_metadata),
    });
  }

  get(runId: string, kind: CheckpointKind, name: string): CheckpointRow | null {
    const r = this.stmts.getCheckpoint.get(runId, kind, name) as Raw | undefined;
    return r ? toCheckpoint(r) : null;
  }

  delete(runId: string, kind: CheckpointKind, name: string): boolean {
    return this.stmts.deleteCheckpoint.run(runId, kind, name).changes === 1;
  }

  expired(now: number): CheckpointRow[] {
    return (this.stmts.expiredCheckpoints.all(now) as Raw[]).map(toCheckpoint);
  }

  ofRun(runId: string): CheckpointRow[] {
    return (this.stmts.checkpointsOfRun.all(runId) as Raw[]).map(toCheckpoint);
  }

  ofOwner(owner: string, limit: number, offset: number): { rows: CheckpointRow[]; total: number } {
    const rows = (this.stmts.checkpointsOfOwner.all(owner, limit, offset) as Raw[]).map(toCheckpoint);
    const total = (this.stmts.countCheckpointsOfOwner.get(owner) as { n: number }).n;
    return { rows, total };
  }

  lastOfRun(runId: string, kind: CheckpointKind): CheckpointRow | null {
    const r = this.stmts.lastCheckpointOfRun.get(runId, kind) as Raw | undefined;
    return r ? toCheckpoint(r) : null;
  }

  setPublic(runId: string, kind: CheckpointKind, name: string, isPublic: boolean): boolean {
    return this.stmts.setCheckpointPublic.run(isPublic ? 1 : 0, runId, kind, name).changes === 1;
  }

  setExpiry(runId: string, kind: CheckpointKind, name: string, expiresAt: number | null): boolean {
    return this.stmts.setCheckpointExpiry.run(expiresAt, runId, kind, name).changes === 1;
  }
}
