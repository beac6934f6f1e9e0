import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { traceCustomLoss } from '@tinker-ts/sdk';
import type { CreateCustomLossRequest } from '@tinker-ts/protocol';
import type { ServerContext } from './context.js';
import { MAX_CUSTOM_LOSSES_PER_SESSION, customLossIdOf, dropCustomLosses, registerCustomLoss, requireCustomLoss } from './custom-losses.js';
import { BadRequestError } from './errors.js';
import { Store } from './store.js';

/** A real (if small) loss: the negated sum of datum 0's logprobs, scaled by `scale`. */
function request(sessionId: string, seq: number, scale = 1): CreateCustomLossRequest {
  const def = traceCustomLoss({ name: 'nll', datums: 1, inputs: {} }, ({ logprobs }) => ({ loss: logprobs.at(0).sum().mul(-scale) }));
  return { session_id: sessionId, custom_loss_seq_id: seq, name: def.name, inputs: def.inputs, graph: def.graph, type: 'create_custom_loss' };
}

/** The parts of a server context the registry uses: the store and the clock. */
function contextOn(store: Store): ServerContext {
  return { store, clock: Date.now } as unknown as ServerContext;
}

test('losses are per session: a retry gets the same loss, a different loss on a used seq id is a 400, a finished session forgets them', () => {
  const store = new Store(':memory:');
  const ctx = contextOn(store);
  const id = customLossIdOf('s1', 0);
  const first = registerCustomLoss(ctx, id, request('s1', 0));
  assert.equal(registerCustomLoss(ctx, id, request('s1', 0)), first, 'a retry');
  assert.throws(() => registerCustomLoss(ctx, id, request('s1', 0, 2)), (e: unknown) => e instanceof BadRequestError && e.status === 400 && /already used/.test(e.message));
  assert.equal(requireCustomLoss(ctx, 's1', first.lossId, 'f'), first);
  assert.throws(() => requireCustomLoss(ctx, 's2', first.lossId, 'f'), /no custom loss/, "another session's loss is not found");
  assert.throws(() => requireCustomLoss(ctx, 's1', null, 'f'), /needs the loss_id/);
  assert.throws(() => requireCustomLoss(contextOn(new Store(':memory:')), 's1', first.lossId, 'f'), /no custom loss/, 'another server has none');
  for (let i = 1; i < MAX_CUSTOM_LOSSES_PER_SESSION; i++) registerCustomLoss(ctx, customLossIdOf('s1', i), request('s1', i));
  assert.throws(() => registerCustomLoss(ctx, customLossIdOf('s1', 256), request('s1', 256)), /at most 256/);
  registerCustomLoss(ctx, customLossIdOf('s2', 0), request('s2', 0));
  dropCustomLosses(ctx, 's1');
  assert.throws(() => requireCustomLoss(ctx, 's1', first.lossId, 'f'), /no custom loss/);
  assert.ok(requireCustomLoss(ctx, 's2', customLossIdOf('s2', 0), 'f'));
});

test('an acknowledged loss survives a restart: it is rebuilt from its stored request', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-custom-losses-'));
  try {
    const file = path.join(dir, 'db.sqlite');
    const before = new Store(file);
    const registered = registerCustomLoss(contextOn(before), customLossIdOf('s1', 3), request('s1', 3, 2));
    before.close();

    const after = contextOn(new Store(file));
    const rebuilt = requireCustomLoss(after, 's1', registered.lossId, 'f');
    assert.deepEqual(rebuilt.program, registered.program);
    assert.equal(rebuilt.fingerprint, registered.fingerprint);
    // The stored loss still tells a retry from a different loss on its seq id.
    assert.equal(registerCustomLoss(after, registered.lossId, request('s1', 3, 2)), rebuilt);
    assert.throws(() => registerCustomLoss(after, registered.lossId, request('s1', 3, 5)), /already used/);
    after.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
