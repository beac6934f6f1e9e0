import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from './errors.js';
import { checkDimuonParams, checkOptimizerConfig, checkOptimizerMatches, resolveOptimStepParams } from './optimizer-checks.js';
import { createModelRequestSchema, loadWeightsRequestSchema, optimStepRequestSchema } from './request-schemas.js';
import { parse } from './schema.js';

function failure(fn: () => unknown): { field: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return { field: err.field, message: err.message };
  }
  return { field: 'no error', message: '' };
}

test('optimizer_config: absent or null is AdamW, dimuon needs version 1', () => {
  assert.equal(checkOptimizerConfig(undefined), 'adamw');
  assert.equal(checkOptimizerConfig(null), 'adamw');
  assert.equal(checkOptimizerConfig({ type: 'adamw' }), 'adamw');
  assert.equal(checkOptimizerConfig({ type: 'dimuon', version: 1 }), 'dimuon');
  assert.equal(checkOptimizerConfig({ type: 'dimuon' }), 'dimuon');
  assert.deepEqual(failure(() => checkOptimizerConfig({ type: 'dimuon', version: 2 })).field, 'optimizer_config.version');
  const unknown = failure(() => checkOptimizerConfig({ type: 'sgd' }));
  assert.equal(unknown.field, 'optimizer_config.type');
  assert.match(unknown.message, /unknown optimizer type "sgd"/);
});

test('create_model and load_weights bodies carry optimizer_config; old bodies still parse', () => {
  const base = { session_id: 's', model_seq_id: 0, base_model: 'm' };
  assert.equal(parse(createModelRequestSchema, base).optimizer_config, undefined);
  assert.deepEqual(parse(createModelRequestSchema, { ...base, optimizer_config: { type: 'dimuon' } }).optimizer_config, { type: 'dimuon', version: 1 });
  assert.equal(failure(() => parse(createModelRequestSchema, { ...base, optimizer_config: { type: 'lion' } })).field, 'optimizer_config.type');
  assert.equal(failure(() => parse(createModelRequestSchema, { ...base, optimizer_config: { type: 'dimuon', version: 3 } })).field, 'optimizer_config.version');
  const load = parse(loadWeightsRequestSchema, { session_id: 's', model_seq_id: 1, path: 'tinker://r/weights/a', optimizer: false, optimizer_config: { type: 'adamw' } });
  assert.deepEqual(load.optimizer_config, { type: 'adamw' });
});

test('Dimuon defaults are filled in on every step, learning_rate is required', () => {
  assert.deepEqual(checkDimuonParams({ type: 'dimuon', learning_rate: 0.02 }), {
    type: 'dimuon', learning_rate: 0.02, grad_clip_norm: 0, beta1: 0.9, damping: 1e-4, rank_lr_correction_exponent: 0.175,
  });
  // An override of one step does not change the defaults of the next.
  assert.equal(checkDimuonParams({ type: 'dimuon', learning_rate: 0.02, beta1: 0.5 }).beta1, 0.5);
  assert.equal(checkDimuonParams({ type: 'dimuon', learning_rate: 0.02 }).beta1, 0.9);
  // Nonpositive clip norms disable clipping (they are not errors); exponent 0 disables the rank correction.
  assert.equal(checkDimuonParams({ type: 'dimuon', learning_rate: 0, grad_clip_norm: -1, rank_lr_correction_exponent: 0 }).grad_clip_norm, -1);
  const missing = failure(() => checkDimuonParams({ type: 'dimuon' }));
  assert.equal(missing.field, 'optimizer_params.learning_rate');
  assert.match(missing.message, /required/);
});

test('Dimuon ranges are enforced with the field named', () => {
  const at = (p: Record<string, unknown>) => failure(() => checkDimuonParams({ type: 'dimuon', learning_rate: 0.01, ...p })).field;
  assert.equal(at({ learning_rate: -0.1 }), 'optimizer_params.learning_rate');
  assert.equal(at({ beta1: 1 }), 'optimizer_params.beta1');
  assert.equal(at({ beta1: -0.01 }), 'optimizer_params.beta1');
  assert.equal(at({ damping: 0 }), 'optimizer_params.damping');
  assert.equal(at({ damping: -1e-4 }), 'optimizer_params.damping');
  assert.equal(at({ grad_clip_norm: Number.POSITIVE_INFINITY }), 'optimizer_params.grad_clip_norm');
  assert.equal(at({ rank_lr_correction_exponent: Number.NaN }), 'optimizer_params.rank_lr_correction_exponent');
  assert.equal(at({ type: 'adamw' }), 'optimizer_params.type');
});

test('optim_step: adam_params (0.25 and 0.38), optimizer_params and optim_params resolve to their family', () => {
  const body = (extra: Record<string, unknown>) => parse(optimStepRequestSchema, { model_id: 'm', seq_id: 1, ...extra });
  const adam = resolveOptimStepParams(body({ adam_params: { learning_rate: 3e-4 } }));
  assert.equal(adam.kind, 'adamw');
  assert.equal(adam.params.learning_rate, 3e-4);
  assert.equal(adam.params.beta2, 0.95);
  const dimuon = resolveOptimStepParams(body({ optimizer_params: { type: 'dimuon', learning_rate: 0.02, damping: 1e-3 } }));
  assert.equal(dimuon.kind, 'dimuon');
  assert.equal(dimuon.field, 'optimizer_params');
  assert.equal(dimuon.kind === 'dimuon' && dimuon.params.damping, 1e-3);
  assert.equal(resolveOptimStepParams(body({ optim_params: { type: 'dimuon', learning_rate: 0.02 } })).kind, 'dimuon');
  assert.equal(resolveOptimStepParams(body({ optim_params: { learning_rate: 0.02 } })).kind, 'adamw');
});

test('optim_step: no parameters, two sets, or an untyped optimizer_params are refused', () => {
  const body = (extra: Record<string, unknown>) => parse(optimStepRequestSchema, { model_id: 'm', ...extra });
  assert.match(failure(() => resolveOptimStepParams(body({}))).message, /adam_params \(AdamW\) or optimizer_params/);
  const both = failure(() => resolveOptimStepParams(body({ adam_params: {}, optimizer_params: { type: 'dimuon', learning_rate: 1 } })));
  assert.match(both.message, /one set of parameters, got adam_params and optimizer_params/);
  assert.equal(failure(() => body({ optimizer_params: { learning_rate: 1 } })).field, 'optimizer_params.type');
  assert.equal(failure(() => body({ optim_params: { type: 'lion', learning_rate: 1 } })).field, 'optim_params.type');
  assert.equal(failure(() => resolveOptimStepParams(body({ optimizer_params: { type: 'dimuon', learning_rate: -1 } }))).field, 'optimizer_params.learning_rate');
});

test('parameters of the other family are refused naming the model optimizer', () => {
  const dimuon = resolveOptimStepParams({ optimizer_params: { type: 'dimuon', learning_rate: 0.01 } });
  const adam = resolveOptimStepParams({ adam_params: { learning_rate: 0.01 } });
  checkOptimizerMatches('dimuon', dimuon);
  checkOptimizerMatches('adamw', adam);
  const wrong = failure(() => checkOptimizerMatches('adamw', dimuon, 'model s:train:0'));
  assert.equal(wrong.field, 'optimizer_params');
  assert.match(wrong.message, /model s:train:0 was created with the AdamW optimizer/);
  assert.match(wrong.message, /got Dimuon parameters/);
  assert.match(failure(() => checkOptimizerMatches('dimuon', adam)).message, /created with the Dimuon optimizer .* takes DimuonParams/);
});
