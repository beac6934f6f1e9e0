import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCreateCustomLoss, checkCustomLossData, createCustomLossRequestSchema, type CustomLossInput } from './custom-loss.js';
import { ValidationError } from './errors.js';
import { parse } from './schema.js';
import type { Datum, TensorData } from './types.js';

const INPUTS: CustomLossInput[] = [{ name: 'logprobs', rank: 1 }, { name: 'mask', rank: 1 }, { name: 'ref', rank: 0 }];
const ints = (data: number[]): TensorData => ({ data, dtype: 'int64' });
const floats = (data: number[], shape?: number[]): TensorData => ({ data, dtype: 'float32', ...(shape ? { shape } : {}) });
const datum = (inputs: Datum['loss_fn_inputs']): Datum => ({ model_input: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] }, loss_fn_inputs: inputs });
const good = () => ({ target_tokens: ints([2, 3, 4]), mask: floats([0, 1, 1]), ref: floats([-3]) });

function fieldOf(run: () => void): string | undefined {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    return e.field;
  }
  assert.fail('expected a ValidationError');
}

test('custom-loss data: target_tokens and every declared input, at its rank, and nothing else', () => {
  checkCustomLossData([datum(good()), datum({ ...good(), ref: floats([1], []) })], INPUTS);
  const bad = (inputs: Datum['loss_fn_inputs']) => fieldOf(() => checkCustomLossData([datum(good()), datum(inputs)], INPUTS));
  assert.equal(bad({ ...good(), ref: undefined as unknown as TensorData }), 'data[1].loss_fn_inputs.ref');
  assert.equal(bad({ ...good(), weights: floats([1, 1, 1]) }), 'data[1].loss_fn_inputs.weights');
  assert.equal(bad({ ...good(), mask: floats([1, 1]) }), 'data[1].loss_fn_inputs.mask.shape');
  assert.equal(bad({ ...good(), ref: floats([1, 2]) }), 'data[1].loss_fn_inputs.ref.shape');
  assert.equal(bad({ ...good(), target_tokens: floats([2, 3, 4]) }), 'data[1].loss_fn_inputs.target_tokens.dtype');
  assert.equal(bad({ ...good(), target_tokens: ints([2, -3, 4]) }), 'data[1].loss_fn_inputs.target_tokens.data[1]');
  assert.equal(bad({ ...good(), mask: floats([1, Number.NaN, 1]) }), 'data[1].loss_fn_inputs.mask.data[1]');
});

test('a create_custom_loss request: the schema bounds sizes, the checks bound form', () => {
  const node = (op: string, name: string, target: string, args: unknown[] = []) => ({ op, name, target, args, kwargs: {} });
  const request = (nodes: unknown[], inputs: unknown = [{ name: 'logprobs', rank: 1 }]) =>
    parse(createCustomLossRequestSchema, { session_id: 's', custom_loss_seq_id: 1, name: 'l', inputs, graph: { format: 1, nodes } });
  const ok = [node('placeholder', 'logprobs', 'logprobs'), node('call_function', 'g', 'operator.getitem', [{ ref: 'logprobs' }, 0]), node('output', 'output', 'output', [{ ref: 'g' }])];
  checkCreateCustomLoss(request(ok));
  assert.equal(fieldOf(() => request(ok, [{ name: 'logprobs', rank: 3 }])), 'inputs[0].rank');
  assert.equal(fieldOf(() => request([...ok.slice(0, 2), node('bogus', 'x', 'y'), ok[2]])), 'graph.nodes[2].op');
  assert.equal(fieldOf(() => request(ok.map((n) => ({ ...n, target: 'x'.repeat(129) })))), 'graph.nodes[0].target');
  // Wide args are bounded per node: 4096 values in all.
  const wide = [ok[0], node('call_function', 's', 'torch.stack', [Array.from({ length: 4096 }, () => 1)]), node('output', 'output', 'output', [{ ref: 's' }])];
  assert.equal(fieldOf(() => checkCreateCustomLoss(request(wide))), 'graph.nodes[1].args[0][4095]');
  // A placeholder after a call, and an output that is not last.
  assert.equal(fieldOf(() => checkCreateCustomLoss(request([ok[0], ok[1], node('placeholder', 'p', 'p'), ok[2]], [{ name: 'logprobs', rank: 1 }, { name: 'p', rank: 0 }]))), 'graph.nodes[2].op');
  assert.equal(fieldOf(() => checkCreateCustomLoss(request([ok[0], ok[2], ok[1]]))), 'graph.nodes[1].op');
  assert.equal(fieldOf(() => checkCreateCustomLoss(request(ok, [{ name: 'logprobs', rank: 1 }, { name: 'target_tokens', rank: 1 }]))), 'inputs[1].name');
  assert.equal(fieldOf(() => checkCreateCustomLoss(request([ok[0], node('call_function', 'g', 'torch.exp', [{ slice: [0, 'a', null] }]), ok[2]]))), 'graph.nodes[1].args[0].slice');
  assert.equal(fieldOf(() => checkCreateCustomLoss(request([ok[0], node('call_function', 'g', 'torch.exp', [{ float: 'big' }]), ok[2]]))), 'graph.nodes[1].args[0].float');
  assert.equal(fieldOf(() => checkCreateCustomLoss(request([ok[0], node('call_function', 'g', 'torch.exp', [{ ref: 'logprobs', tuple: [] }]), ok[2]]))), 'graph.nodes[1].args[0]');
});
