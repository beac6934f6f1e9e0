// The sampling_sessions table: samplers bound to a base model or to (possibly ephemeral) sampler weights.
import type Database from 'better-sqlite3';
import { toSamplingSession, type Raw, type SamplingSessionRow } from './rows.js';

function prepare(db: Database.Database) {
  return {
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
    addClient: db.prepare(
      `UPDATE sampling_sessions SET clients_joined = COALESCE(clients_joined, 0) + 1 WHERE sampling_session_id = ?
       RETURNING clients_joined`,
    ),
    samplingSessionsOfSession: db.prepare(
      `SELECT * FROM sampling_sessions WHERE session_id = ? ORDER BY created_at, sampling_session_id`,
    ),
  };
}

export class SamplingSessionsTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.stmts = prepare(db);
  }

  insert(s: Omit<SamplingSessionRow, 'created_at' | 'last_used_at' | 'released_at'> & { now: number }): void {
    this.stmts.insertSamplingSession.run({ ...s, ephemeral: s.ephemeral ? 1 : 0 });
  }

  get(id: string): SamplingSessionRow | null {
    const r = this.stmts.getSamplingSession.get(id) as Raw | undefined;
    return r ? toSamplingSession(r) : null;
  }

  ofSession(sessionId: string): SamplingSessionRow[] {
    return (this.stmts.samplingSessionsOfSession.all(sessionId) as Raw[]).map(toSamplingSession);
  }

  touch(id: string, now: number): void {
    this.stmts.touchSamplingSession.run(now, id);
  }

  /**
   * Numbers one more client of the sampling session (join_sampling_session): 1, 2, … (the
   * creating client is 0). Kept in the row, so numbers are never handed out twice, restarts included.
   */
  addClient(id: string): number {
    const r = this.stmts.addClient.get(id) as { clients_joined: number } | undefined;
    if (!r) throw new Error(`sampling session ${id} vanished`);
    return r.clients_joined;
  }

  /** Records that a sampling session's ephemeral weights were deleted; false if they already were. */
  release(id: string, now: number): boolean {
    return this.stmts.releaseSamplingSession.run(now, id).changes === 1;
  }

  /** Ephemeral sampler weights still on disk whose session ended, or unused since `idleBefore`. */
  ephemeralToRelease(idleBefore: number): SamplingSessionRow[] {
    return (this.stmts.ephemeralToRelease.all({ idleBefore }) as Raw[]).map(toSamplingSession);
  }

  /** Directories of every ephemeral sampler weights not yet released. */
  liveEphemeralDirs(): string[] {
    return (this.stmts.liveEphemeralDirs.all() as Array<{ sampler_dir: string }>).map((r) => r.sampler_dir);
  }
}
