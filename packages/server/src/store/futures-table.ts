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
      `UPDATE futures SET state = 'done', result_json = ?, result_bytes = ?, finished_at = ?, started_at = COALESCE(?, started_at), completion_seq = ?
       WHERE request_id = ? AND state IN ('pending', 'running')`,
    ),
    failFuture: db.prepare(
      `UPDATE futures SET state = 'failed', error = ?, category = ?, finished_at = ?, started_at = COALESCE(?, started_at), completion_seq = ?
       WHERE request_id = ? AND state IN ('pending', 'running')`,
    ),
    futuresOfSession: db.prepare(
      `SELECT * FROM futures
       WHERE model_id IN (SELECT model_id FROM models WHERE session_id = @session_id)
          OR queue_key IN (SELECT sampling_session_id FROM sampling_sessions WHERE session_id = @session_id)
       ORDER BY created_at, request_id
       LIMIT @limit`,
    ),
    deleteFinishedBefore: db.prepare(`DELETE FROM futures WHERE finished_at IS NOT NULL AND finished_at < ?`),
    failUnfinished: db.prepare(
      `UPDATE futures SET state = 'failed', error = ?, category = 'server', finished_at = ?, completion_seq = ? + rowid
       WHERE state IN ('pending', 'running')`,
    ),
    maxCompletionSeq: db.prepare(`SELECT MAX(completion_seq) AS m FROM futures`),
    completionsAfter: db.prepare(
      `SELECT request_id, state, completion_seq, COALESCE(length(result_bytes), length(CAST(result_json AS BLOB))) AS payload_size
       FROM futures
       WHERE queue_key = @queue_key AND seq_id >= @seq_from AND seq_id < @seq_to AND completion_seq > @after
       ORDER BY completion_seq
       LIMIT @limit`,
    ),
  };
}

/** A finished future as the session-wide poll reports it (retrieve_futures). */
export interface CompletionRow {
  request_id: string;
  state: 'done' | 'failed';
  completion_seq: number;
  /** Bytes of the stored result (protobuf or JSON text); null for a failure. */
  payload_size: number | null;
}

export class FuturesTable {
  private readonly stmts: ReturnType<typeof prepare>;
  /**
   * Every finished future gets the next number, in the order they finished: retrieve_futures
   * hands these out as cursors. Kept in the row, so the order survives a restart.
   */
  private lastCompletionSeq: number | undefined;

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

  /**
   * Stores a result (JSON text or protobuf bytes), and when the engine started on it (known in
   * memory only until now). False if the future had already finished (e.g. cancelled).
   */
  complete(requestId: string, result: { json: string } | { bytes: Uint8Array }, now: number, startedAt: number | null = null): boolean {
    const json = 'json' in result ? result.json : null;
    const bytes = 'bytes' in result ? Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength) : null;
    return this.stmts.completeFuture.run(json, bytes, now, startedAt, this.nextCompletionSeq(), requestId).changes === 1;
  }

  fail(requestId: string, error: string, category: string, now: number, startedAt: number | null = null): boolean {
    return this.stmts.failFuture.run(error, category, now, startedAt, this.nextCompletionSeq(), requestId).changes === 1;
  }

  /**
   * Futures of queue `queueKey` with seq_id in [seqFrom, seqTo) that finished after cursor
   * `after`, in the order they finished.
   */
  completionsAfter(queueKey: string, seqFrom: number, seqTo: number, after: number, limit: number): CompletionRow[] {
    return this.stmts.completionsAfter.all({ queue_key: queueKey, seq_from: seqFrom, seq_to: seqTo, after, limit }) as CompletionRow[];
  }

  private nextCompletionSeq(): number {
    this.lastCompletionSeq ??= (this.stmts.maxCompletionSeq.get() as { m: number | null }).m ?? 0;
    return ++this.lastCompletionSeq;
  }

  /** The futures of a session's training runs and sampling sessions, oldest first. */
  ofSession(sessionId: string, limit: number): FutureRow[] {
    return this.stmts.futuresOfSession.all({ session_id: sessionId, limit }) as FutureRow[];
  }

  /** Forgets results finished before `before` (their request ids then answer 404). */
  deleteFinishedBefore(before: number): number {
    return this.stmts.deleteFinishedBefore.run(before).changes;
  }

  /** At startup: what was queued or running when the process died can never finish. */
  failUnfinished(error: string, now: number): number {
    // rowids are unique, so base + rowid numbers these failures after every earlier completion.
    const base = (this.stmts.maxCompletionSeq.get() as { m: number | null }).m ?? 0;
    const changes = this.stmts.failUnfinished.run(error, now, base).changes;
    this.lastCompletionSeq = undefined;
    return changes;
  }
}
