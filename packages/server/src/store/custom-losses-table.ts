// The custom_losses table: losses sessions registered with create_custom_loss, as the request
// that registered them (rebuilt from it after a restart, through the same allow-list).
import type Database from 'better-sqlite3';

export interface CustomLossRow {
  loss_id: string;
  session_id: string;
  /** The create_custom_loss body (name, inputs, graph) as JSON. */
  request_json: string;
  created_at: number;
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO custom_losses (loss_id, session_id, request_json, created_at) VALUES (@loss_id, @session_id, @request_json, @created_at)`,
    ),
    get: db.prepare(`SELECT * FROM custom_losses WHERE loss_id = ?`),
    countOfSession: db.prepare(`SELECT COUNT(*) AS n FROM custom_losses WHERE session_id = ?`),
    deleteOfSession: db.prepare(`DELETE FROM custom_losses WHERE session_id = ?`),
  };
}

export class CustomLossesTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.stmts = prepare(db);
  }

  insert(row: CustomLossRow): void {
    this.stmts.insert.run(row);
  }

  get(lossId: string): CustomLossRow | null {
    return (this.stmts.get.get(lossId) as CustomLossRow | undefined) ?? null;
  }

  countOfSession(sessionId: string): number {
    return (this.stmts.countOfSession.get(sessionId) as { n: number }).n;
  }

  deleteOfSession(sessionId: string): void {
    this.stmts.deleteOfSession.run(sessionId);
  }
}
