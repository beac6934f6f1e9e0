import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectFakeTinker, validationFieldOf } from './fake-tinker-client.testkit.js';
import { Datum } from './datum.js';

test('the optimizer is chosen at creation: sent as optimizer_config, readable on the client, AdamW wire unchanged by default', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const adam = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const dimuon = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B', optimizer: { type: 'dimuon', version: 1 } });
  assert.deepEqual(adam.optimizer, { type: 'adamw' });
  assert.deepEqual(dimuon.optimizer, { type: 'dimuon', version: 1 });
  const creates = (await peer.log('create_model')).map((r) => r.body);
  assert.equal('optimizer_config' in creates[0], false, 'no optimizer_config for the default');
  assert.deepEqual(creates[1].optimizer_config, { type: 'dimuon', version: 1 });
  assert.equal(validationFieldOf(() => service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B', optimizer: { type: 'sgd' } as never })), 'optimizer.type');
});

test('optimStep sends DimuonParams as optimizer_params with the defaults, and refuses the other family before sending', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const adam = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const dimuon = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B', optimizer: { type: 'dimuon', version: 1 } });
  await dimuon.forwardBackward([Datum.fromTokens([1, 2, 3])], 'cross_entropy');
  assert.deepEqual((await dimuon.optimStep({ type: 'dimuon', learningRate: 0.02, damping: 1e-3 })).metrics, { 'learning_rate:mean': 0.02 });
  const sent = (await peer.log('optim_step')).map((r) => r.body);
  assert.deepEqual(sent[0], {
    model_id: dimuon.modelId, seq_id: 2, type: 'optim_step',
    optimizer_params: { type: 'dimuon', learning_rate: 0.02, grad_clip_norm: 0, beta1: 0.9, damping: 1e-3, rank_lr_correction_exponent: 0.175 },
  });

  assert.throws(() => adam.optimStep({ type: 'dimuon', learningRate: 0.02 }), /created with the AdamW optimizer, so optimStep takes AdamParams/);
  assert.equal(validationFieldOf(() => dimuon.optimStep({ learningRate: 1e-4 })), 'adam_params');
  assert.throws(() => dimuon.optimStep(), /created with the Dimuon optimizer/);
  assert.equal(validationFieldOf(() => dimuon.optimStep({ type: 'dimuon', learningRate: 0.02, beta1: 1 })), 'optimizer_params.beta1');
  assert.equal(validationFieldOf(() => dimuon.optimStep({ type: 'dimuon' } as never)), 'optimizer_params.learning_rate');
  assert.equal((await peer.log('optim_step')).length, 1, 'refused steps are not sent');
  // A refused step takes no seq_id: the next request follows on.
  await dimuon.optimStep({ type: 'dimuon', learningRate: 0.01 });
  assert.deepEqual((await peer.log('optim_step')).map((r) => r.body.seq_id), [2, 3]);
});

test('a resume from state takes the checkpoint optimizer with the optimizer state, the chosen one without', async (t) => {
  const { peer, service } = await connectFakeTinker(t);
  const fresh = await service.createTrainingClientFromState('tinker://run-0/weights/a', { optimizer: { type: 'dimuon', version: 1 } });
  assert.deepEqual(fresh.optimizer, { type: 'dimuon', version: 1 });
  assert.deepEqual((await peer.log('create_model'))[0]!.body.optimizer_config, { type: 'dimuon', version: 1 });
  assert.throws(() => service.createTrainingClientFromStateWithOptimizer('tinker://run-0/weights/a', { optimizer: { type: 'adamw' } }), /keeps the checkpoint's optimizer/);
});
