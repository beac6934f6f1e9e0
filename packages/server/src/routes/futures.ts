/**
 * retrieve_future (long poll), retrieve_futures (one long poll for a whole sampling session)
 * and cancel_future.
 *
 * What the official SDK reads (lib/api_future_impl.py): a 200 whose Content-Type is
 * protobuf is the result; a JSON body with `type: "try_again"` means poll again; with
 * `status: "complete_metadata"` it reserves `response_payload_size` bytes and polls again
 * with allow_metadata_only=false; with an `error` key it raises RequestFailedError(category);
 * anything else is the JSON result. 404 is fatal for it, which is what an unknown or foreign
 * request id deserves.
 */
import {
  cancelFutureRequestSchema,
  futureRetrieveRequestSchema,
  futuresRetrieveRequestSchema,
  parse,
  type FutureFailed,
  type FutureFinished,
  type FuturesRetrieveResponse,
  type FutureMetadataResponse,
  type RequestFailedResponse,
  type TryAgainResponse,
} from '@tinker-ts/protocol';
import { requireSamplingSession, type ServerContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import { bytes, json, PROTOBUF_CONTENT_TYPE, type Reply, type Route, defineRoute } from '../router.js';
import type { FutureRow } from '../store/rows.js';
import { decodeResultProtobuf } from '../wire-codec.js';

function requireFuture(ctx: ServerContext, user: string, requestId: string): FutureRow {
  const row = ctx.futures.get(requestId);
  if (!row || row.owner !== user) throw new NotFoundError(`request ${requestId} not found`);
  return row;
}

function completedReply(ctx: ServerContext, row: FutureRow, wantsProtobuf: boolean, allowMetadataOnly: boolean): Reply {
  let reply: Reply;
  let size: number;
  if (row.result_bytes && wantsProtobuf) {
    reply = bytes(plainView(row.result_bytes), PROTOBUF_CONTENT_TYPE);
    size = row.result_bytes.byteLength;
  } else {
    const text = row.result_bytes
      ? JSON.stringify(decodeResultProtobuf(row.kind, plainView(row.result_bytes)))
      : (row.result_json ?? 'null');
    reply = bytes(Buffer.from(text, 'utf8'), 'application/json');
    size = Buffer.byteLength(text);
  }
  if (allowMetadataOnly && size > ctx.settings.metadataOnlyThresholdBytes) {
    const meta: FutureMetadataResponse = { status: 'complete_metadata', response_payload_size: size };
    return json(meta);
  }
  return reply;
}

/** seq_ids of cloned sampling clients start at clone × 1e9 (the official SDK's numbering). */
const SEQ_IDS_PER_CLONE = 1_000_000_000;
/** Completions one retrieve_futures answer carries at most; the rest come with the next poll. */
const MAX_COMPLETIONS_PER_POLL = 1000;

/**
 * The sample futures of one sampling session (one client of it) that finished after the
 * cursor, holding until one does. The cursor is the futures' completion number, kept in their
 * rows: a poll after a server restart still gets what finished before it.
 */
async function retrieveCompletions(
  ctx: ServerContext,
  target: { sampling_session_id: string; cloned_sampler_id: number },
  prevCursor: number,
  holdMs: number,
  signal: AbortSignal,
): Promise<FuturesRetrieveResponse> {
  const queueKey = target.sampling_session_id;
  const seqFrom = target.cloned_sampler_id * SEQ_IDS_PER_CLONE;
  const deadline = Date.now() + holdMs;
  for (;;) {
    // Read the count before the query: a finish after the query then ends the wait at once.
    const seen = ctx.futures.queueFinishCount(queueKey);
    const rows = ctx.store.futures.completionsAfter(queueKey, seqFrom, seqFrom + SEQ_IDS_PER_CLONE, prevCursor, MAX_COMPLETIONS_PER_POLL);
    const left = deadline - Date.now();
    if (rows.length > 0 || left <= 0 || signal.aborted) {
      const completions = rows.map((r): FutureFinished | FutureFailed =>
        r.state === 'done'
          ? { state: 'finished', request_id: r.request_id, response_payload_uncompressed_size: r.payload_size }
          : { state: 'failed', request_id: r.request_id },
      );
      return { completions, cursor: rows.length ? rows[rows.length - 1]!.completion_seq : prevCursor };
    }
    await ctx.futures.waitForQueueFinish(queueKey, seen, left, signal);
  }
}

/** SQLite hands out Buffers; decoders expect plain Uint8Array semantics. */
function plainView(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function futureRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/retrieve_future',
      body: (v) => parse(futureRetrieveRequestSchema, v),
      handler: async ({ user, body, accepts, signal }) => {
        let row = requireFuture(ctx, user, body.request_id);
        ctx.futures.polls.polled(row.request_id, ctx.clock());
        if (row.state === 'pending' || row.state === 'running') {
          row = (await ctx.futures.waitUntilFinished(row.request_id, ctx.settings.longPollMs, signal)) ?? row;
        }
        if (row.state === 'failed') {
          const failed: RequestFailedResponse = {
            error: row.error ?? 'request failed',
            category: (row.category as RequestFailedResponse['category']) ?? 'unknown',
          };
          ctx.futures.polls.delivered(row.request_id, ctx.clock());
          return json(failed);
        }
        if (row.state === 'done') {
          const reply = completedReply(ctx, row, accepts(PROTOBUF_CONTENT_TYPE), body.allow_metadata_only === true);
          if (reply.kind !== 'json') ctx.futures.polls.delivered(row.request_id, ctx.clock());
          return reply;
        }
        const status = ctx.futures.status(row.request_id);
        const tryAgain: TryAgainResponse = {
          type: 'try_again',
          request_id: row.request_id,
          queue_state: status?.queue_state ?? 'active',
          queue_state_reason: status?.reason ?? (row.state === 'running' ? 'running' : 'queued'),
        };
        return json(tryAgain);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/retrieve_futures',
      body: (v) => parse(futuresRetrieveRequestSchema, v),
      handler: async ({ user, body, signal }) => {
        const target = body.target;
        requireSamplingSession(ctx, user, target.sampling_session_id);
        // `timeout` (seconds) may shorten the hold, never lengthen it past the server's long poll.
        const holdMs = body.timeout == null ? ctx.settings.longPollMs : Math.min(body.timeout * 1000, ctx.settings.longPollMs);
        const res = await retrieveCompletions(
          ctx,
          { sampling_session_id: target.sampling_session_id, cloned_sampler_id: target.cloned_sampler_id ?? 0 },
          body.prev_cursor ?? 0,
          holdMs,
          signal,
        );
        return json(res);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/cancel_future',
      body: (v) => parse(cancelFutureRequestSchema, v),
      handler: ({ user, body }) => {
        const row = requireFuture(ctx, user, body.request_id);
        const cancelled =
          (row.state === 'pending') && ctx.queues.cancel(row.request_id, `request ${row.request_id} was cancelled by the client`);
        return json({ request_id: row.request_id, cancelled });
      },
    }),
  ];
}
