import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerContext } from './context.js';
import { MAX_CUSTOM_LOSSES_PER_SESSION, customLossIdOf, dropCustomLosses, registerCustomLoss, requireCustomLoss, type StoredCustomLoss } from './custom-losses.js';
import { BadRequestError } from './errors.js';

const loss = (sessionId: string, seq: number, fingerprint = 'a'): StoredCustomLoss => ({
  lossId: customLossIdOf(sessionId, seq),
  sessionId,
  name: 'l',
  inputs: [{ name: 'logprobs', rank: 1 }],
  program: { steps: [{ op: 'const', value: 0 }], loss: 0, metrics: {} },
  fingerprint,
});

test('losses are per session: a retry gets the same loss, a different loss on a used seq id is a 400, a finished session forgets them', () => {
  const ctx = {} as ServerContext;
  const first = registerCustomLoss(ctx, loss('s1', 0));
  assert.equal(registerCustomLoss(ctx, loss('s1', 0)), first, 'a retry');
  assert.throws(() => registerCustomLoss(ctx, loss('s1', 0, 'b')), (e: unknown) => e instanceof BadRequestError && e.status === 400 && /already used/.test(e.message));
  assert.equal(requireCustomLoss(ctx, 's1', first.lossId, 'f'), first);
  assert.throws(() => requireCustomLoss(ctx, 's2', first.lossId, 'f'), /no custom loss/, "another session's loss is not found");
  assert.throws(() => requireCustomLoss(ctx, 's1', null, 'f'), /needs the loss_id/);
  assert.throws(() => requireCustomLoss({} as ServerContext, 's1', first.lossId, 'f'), /no custom loss/, 'another server has none');
  for (let i = 1; i < MAX_CUSTOM_LOSSES_PER_SESSION; i++) registerCustomLoss(ctx, loss('s1', i));
  assert.throws(() => registerCustomLoss(ctx, loss('s1', MAX_CUSTOM_LOSSES_PER_SESSION)), /at most 256/);
  registerCustomLoss(ctx, loss('s2', 0));
  dropCustomLosses(ctx, 's1');
  assert.throws(() => requireCustomLoss(ctx, 's1', first.lossId, 'f'), /no custom loss/);
  assert.ok(requireCustomLoss(ctx, 's2', customLossIdOf('s2', 0), 'f'));
});
