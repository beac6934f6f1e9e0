// The sessions table: a client process's lifetime, kept alive by heartbeats.
import type Database from 'better-sqlite3';
import { jsonOrNull, toSession, type Raw, type SessionRow } from './rows.js';

function prepare(db: Database.Database) {
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
  };
}

export class SessionsTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.stmts = prepare(db);
  }

  insert(s: Omit<SessionRow, 'created_at' | 'last_heartbeat' | 'finished_at'> & { now: number }): void {
    this.stmts.insertSession.run({ ...s, tags: JSON.stringify(s.tags), user_metadata: jsonOrNull(s.user_metadata) });
  }

  get(sessionId: string): SessionRow | null {
    const r = this.stmts.getSession.get(sessionId) as Raw | undefined;
    return r ? toSession(r) : null;
  }

  touch(sessionId: string, now: number): void {
    this.stmts.touchSession.run(now, sessionId);
  }

  finish(sessionId: string, now: number): void {
    this.stmts.finishSession.run(now, sessionId);
  }

  /**
   * Unfinished sessions with live models, no work in flight, and neither a heartbeat nor a
   * model request since `before`.
   */
  idle(before: number): SessionRow[] {
    return (this.stmts.idleSessions.all(before) as Raw[]).map(toSession);
  }

  list(owner: string, limit: number, offset: number): { rows: SessionRow[]; total: number } {
    const rows = (this.stmts.listSessions.all(owner, limit, offset) as Raw[]).map(toSession);
    const total = (this.stmts.countSessions.get(owner) as { n: number }).n;
    return { rows, total };
  }
}
