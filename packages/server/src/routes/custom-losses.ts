/**
 * create_custom_loss: a session registers a traced loss once; forward_backward then names it by
 * loss_id (routes/training.ts). The route name follows the 0.38 types (CreateCustomLossRequest),
 * since the hosted route is not published; the answer is direct, as create_sampling_session's is.
 */
import { createCustomLossRequestSchema, parse, type CreateCustomLossResponse } from '@tinker-ts/protocol';
import { requireSession, type ServerContext } from '../context.js';
import { customLossIdOf, registerCustomLoss } from '../custom-losses.js';
import { json, type Route, defineRoute } from '../router.js';

export function customLossRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/create_custom_loss',
      body: (v) => parse(createCustomLossRequestSchema, v),
      handler: ({ user, body }) => {
        requireSession(ctx, user, body.session_id);
        const stored = registerCustomLoss(ctx, customLossIdOf(body.session_id, body.custom_loss_seq_id), body);
        const res: CreateCustomLossResponse = { type: 'create_custom_loss', loss_id: stored.lossId };
        return json(res);
      },
    }),
  ];
}
