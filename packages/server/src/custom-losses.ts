/**
 * The custom losses sessions registered (create_custom_loss), rebuilt and ready for the engine.
 * Each is stored as the request that registered it (the custom_losses table), so an
 * acknowledged loss survives a restart: after one it is rebuilt from its row, through the same
 * allow-list, the first time a forward_backward names it. Rebuilt programs are cached in memory.
 */
import type { CreateCustomLossRequest, CustomLossInput } from '@tinker-ts/protocol';
import type { LossProgram } from '@tinker-ts/engine';
import type { ServerContext } from './context.js';
import { rebuildCustomLoss } from './custom-loss-graph.js';
import { BadRequestError } from './errors.js';

export interface StoredCustomLoss {
  lossId: string;
  sessionId: string;
  name: string;
  inputs: CustomLossInput[];
  program: LossProgram;
  /** The request's graph and inputs as JSON, to tell a retry from a different loss on the same seq id. */
  fingerprint: string;
}

/** Most losses one session may register. */
export const MAX_CUSTOM_LOSSES_PER_SESSION = 256;

/** Per server: loss_id → the rebuilt loss. */
const cache = new WeakMap<ServerContext, Map<string, StoredCustomLoss>>();

function cacheOf(ctx: ServerContext): Map<string, StoredCustomLoss> {
  let c = cache.get(ctx);
  if (!c) cache.set(ctx, (c = new Map()));
  return c;
}

export function customLossIdOf(sessionId: string, seqId: number): string {
  return `${sessionId}:loss:${seqId}`;
}

/** What identifies a loss's definition: two registrations with the same one are a retry. */
export function customLossFingerprint(req: Pick<CreateCustomLossRequest, 'name' | 'inputs' | 'graph'>): string {
  return JSON.stringify([req.name, req.inputs, req.graph]);
}

/**
 * Rebuilds and stores the loss of `req` under `lossId`; the same id again is a retry when the
 * loss is the same (the stored one is returned), an error when not.
 */
export function registerCustomLoss(ctx: ServerContext, lossId: string, req: CreateCustomLossRequest): StoredCustomLoss {
  const fingerprint = customLossFingerprint(req);
  const existing = loadCustomLoss(ctx, lossId);
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      throw new BadRequestError(`custom_loss_seq_id of ${lossId} is already used by another custom loss`, { field: 'custom_loss_seq_id' });
    }
    return existing;
  }
  const loss: StoredCustomLoss = {
    lossId, sessionId: req.session_id, name: req.name, inputs: req.inputs, program: rebuildCustomLoss(req), fingerprint,
  };
  if (ctx.store.customLosses.countOfSession(req.session_id) >= MAX_CUSTOM_LOSSES_PER_SESSION) {
    throw new BadRequestError(`a session may register at most ${MAX_CUSTOM_LOSSES_PER_SESSION} custom losses`, { field: 'custom_loss_seq_id' });
  }
  ctx.store.customLosses.insert({
    loss_id: lossId,
    session_id: req.session_id,
    request_json: JSON.stringify({ session_id: req.session_id, custom_loss_seq_id: req.custom_loss_seq_id, name: req.name, inputs: req.inputs, graph: req.graph }),
    created_at: ctx.clock(),
  });
  cacheOf(ctx).set(lossId, loss);
  return loss;
}

/** The loss `lossId` of session `sessionId`, or a 400 naming the field. */
export function requireCustomLoss(ctx: ServerContext, sessionId: string, lossId: string | null | undefined, field: string): StoredCustomLoss {
  if (lossId == null) throw new BadRequestError('loss_fn "custom" needs the loss_id of a loss made with create_custom_loss', { field });
  const loss = loadCustomLoss(ctx, lossId);
  if (!loss || loss.sessionId !== sessionId) throw new BadRequestError(`no custom loss ${lossId} in this session`, { field });
  return loss;
}

/** Forgets a finished session's losses. */
export function dropCustomLosses(ctx: ServerContext, sessionId: string): void {
  ctx.store.customLosses.deleteOfSession(sessionId);
  const c = cacheOf(ctx);
  for (const [id, loss] of c) if (loss.sessionId === sessionId) c.delete(id);
}

/** From the cache, else rebuilt from its row (after a restart); null when never registered. */
function loadCustomLoss(ctx: ServerContext, lossId: string): StoredCustomLoss | null {
  const c = cacheOf(ctx);
  const cached = c.get(lossId);
  if (cached) return cached;
  const row = ctx.store.customLosses.get(lossId);
  if (!row) return null;
  const req = JSON.parse(row.request_json) as CreateCustomLossRequest;
  const loss: StoredCustomLoss = {
    lossId, sessionId: row.session_id, name: req.name, inputs: req.inputs, program: rebuildCustomLoss(req), fingerprint: customLossFingerprint(req),
  };
  c.set(lossId, loss);
  return loss;
}
