// The futures table: every accepted request, its state and its result.
import type Database from 'better-sqlite3';
import type { FutureRow, NewFuture } from './rows.js';

function prepare(db: Database.Database) {
  return {
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
  };
}

export class FuturesTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.stmts = prepare(db);
  }

  insert(f: NewFuture, now: number): void {
    this.stmts.insertFuture.run({ ...f, ack_json: f.ack_json ?? null, now });
  }

  get(requestId: string): FutureRow | null {
    return (this.stmts.getFuture.get(requestId) as FutureRow | undefined) ?? null;
  }

  getBySeq(queueKey: string, seqId: number): FutureRow | null {
    return (this.stmts.getFutureBySeq.get(queueKey, seqId) as FutureRow | undefined) ?? null;
  }

  /** Highest seq_id ever submitted in a queue, or null. */
  maxSeq(queueKey: string): number | null {
    return (this.stmts.maxSeq.get(queueKey) as { m: number | null }).m;
  }

  /** Stores a result (JSON text or protobuf bytes). False if the future had already finished (e.g. cancelled). */
  complete(requestId: string, result: { json: string } | { bytes: Uint8Array }, now: number): boolean {
    const json = 'json' in result ? result.json : null;
    const bytes = 'bytes' in result ? Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength) : null;
    return this.stmts.completeFuture.run(json, bytes, now, requestId).changes === 1;
  }

  fail(requestId: string, error: string, category: string, now: number): boolean {
    return this.stmts.failFuture.run(error, category, now, requestId).changes === 1;
  }

  /** Forgets results finished before `before` (their request ids then answer 404). */
  deleteFinishedBefore(before: number): number {
    return this.stmts.deleteFinishedBefore.run(before).changes;
  }

  /** At startup: what was queued or running when the process died can never finish. */
  failUnfinished(error: string, now: number): number {
    return this.stmts.failUnfinished.run(error, now).changes;
  }
}
