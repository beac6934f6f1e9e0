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

const stores = new WeakMap<ServerContext, Map<string, StoredCustomLoss>>();

function storeOf(ctx: ServerContext): Map<string, StoredCustomLoss> {
  let store = stores.get(ctx);
  if (!store) stores.set(ctx, (store = new Map()));
  return store;
}

export function customLossIdOf(sessionId: string, seqId: number): string {
  return `${sessionId}:loss:${seqId}`;
}

/** Stores `loss`; the same seq id again is a retry when the loss is the same, an error when not. */
export function registerCustomLoss(ctx: ServerContext, loss: StoredCustomLoss): StoredCustomLoss {
  const store = storeOf(ctx);
  const existing = store.get(loss.lossId);
  if (existing) {
    if (existing.fingerprint !== loss.fingerprint) {
      throw new BadRequestError(`custom_loss_seq_id of ${loss.lossId} is already used by another custom loss`, { field: 'custom_loss_seq_id' });
    }
    return existing;
  }
  let count = 0;
  for (const l of store.values()) if (l.sessionId === loss.sessionId) count++;
  if (count >= MAX_CUSTOM_LOSSES_PER_SESSION) {
    throw new BadRequestError(`a session may register at most ${MAX_CUSTOM_LOSSES_PER_SESSION} custom losses`, { field: 'custom_loss_seq_id' });
  }
  store.set(loss.lossId, loss);
  return loss;
}

/** The loss `lossId` of session `sessionId`, or a 400 naming the field. */
export function requireCustomLoss(ctx: ServerContext, sessionId: string, lossId: string | null | undefined, field: string): StoredCustomLoss {
  if (lossId == null) throw new BadRequestError('loss_fn "custom" needs the loss_id of a loss made with create_custom_loss', { field });
  const loss = storeOf(ctx).get(lossId);
  if (!loss || loss.sessionId !== sessionId) {
    throw new BadRequestError(`no custom loss ${lossId} in this session (losses live in server memory: register it again after a server restart)`, { field });
  }
  return loss;
}
