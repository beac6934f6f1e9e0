/**
 * The custom losses sessions registered (create_custom_loss), rebuilt and ready for the engine.
 * They live in server memory, per session: a restarted server has none, and a forward_backward
 * naming one then gets a 400 saying so.
 */
import type { CustomLossInput } from '@tinker-ts/protocol';
import type { LossProgram } from '@tinker-ts/engine';
import type { ServerContext } from './context.js';
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

/** Per server: session id → its losses by loss_id. */
const stores = new WeakMap<ServerContext, Map<string, Map<string, StoredCustomLoss>>>();

function lossesOf(ctx: ServerContext, sessionId: string): Map<string, StoredCustomLoss> | undefined {
  return stores.get(ctx)?.get(sessionId);
}

export function customLossIdOf(sessionId: string, seqId: number): string {
  return `${sessionId}:loss:${seqId}`;
}

/** Stores `loss`; the same seq id again is a retry when the loss is the same, an error when not. */
export function registerCustomLoss(ctx: ServerContext, loss: StoredCustomLoss): StoredCustomLoss {
  let sessions = stores.get(ctx);
  if (!sessions) stores.set(ctx, (sessions = new Map()));
  let losses = sessions.get(loss.sessionId);
  if (!losses) sessions.set(loss.sessionId, (losses = new Map()));
  const existing = losses.get(loss.lossId);
  if (existing) {
    if (existing.fingerprint !== loss.fingerprint) {
      throw new BadRequestError(`custom_loss_seq_id of ${loss.lossId} is already used by another custom loss`, { field: 'custom_loss_seq_id' });
    }
    return existing;
  }
  if (losses.size >= MAX_CUSTOM_LOSSES_PER_SESSION) {
    throw new BadRequestError(`a session may register at most ${MAX_CUSTOM_LOSSES_PER_SESSION} custom losses`, { field: 'custom_loss_seq_id' });
  }
  losses.set(loss.lossId, loss);
  return loss;
}

/** The loss `lossId` of session `sessionId`, or a 400 naming the field. */
export function requireCustomLoss(ctx: ServerContext, sessionId: string, lossId: string | null | undefined, field: string): StoredCustomLoss {
  if (lossId == null) throw new BadRequestError('loss_fn "custom" needs the loss_id of a loss made with create_custom_loss', { field });
  const loss = lossesOf(ctx, sessionId)?.get(lossId);
  if (!loss) {
    throw new BadRequestError(`no custom loss ${lossId} in this session (losses live in server memory: register it again after a server restart)`, { field });
  }
  return loss;
}

/** Forgets a finished session's losses. */
export function dropCustomLosses(ctx: ServerContext, sessionId: string): void {
  stores.get(ctx)?.delete(sessionId);
}
