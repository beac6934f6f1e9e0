import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCreateCustomLoss, createCustomLossRequestSchema, parse } from '@tinker-ts/protocol';
import { Sym, traceCustomLoss } from './custom-loss-graph.js';
import { ValidationError } from './errors.js';

test('a trace records fx-style nodes: placeholders in input order, calls by qualified name, one output', () => {
  const def = traceCustomLoss({ name: 'sq', datums: 2, inputs: { adv: 0 } }, ({ logprobs: lp, adv }) => ({
    loss: lp.at(1).clamp(-Infinity, 0).square().sum().mul(adv.at(0).sum()),
    metrics: { 'first:mean': lp.at(0).mean() },
  }));
  assert.deepEqual(def.inputs, [{ name: 'logprobs', rank: 1 }, { name: 'adv', rank: 0 }]);
  const node = (op: string, name: string, target: string, args: unknown[], kwargs = {}) => ({ op, name, target, args, kwargs });
  assert.deepEqual(def.graph, {
    format: 1,
    nodes: [
      node('placeholder', 'logprobs', 'logprobs', []),
      node('placeholder', 'adv', 'adv', []),
      node('call_function', 'getitem', 'operator.getitem', [{ ref: 'logprobs' }, 1]),
      node('call_function', 'clamp', 'torch.clamp', [{ ref: 'getitem' }], { min: { float: '-inf' }, max: 0 }),
      node('call_function', 'square', 'torch.square', [{ ref: 'clamp' }]),
      node('call_function', 'sum', 'torch.sum', [{ ref: 'square' }]),
      node('call_function', 'getitem_1', 'operator.getitem', [{ ref: 'adv' }, 0]),
      node('call_function', 'sum_1', 'torch.sum', [{ ref: 'getitem_1' }]),
      node('call_function', 'mul', 'operator.mul', [{ ref: 'sum' }, { ref: 'sum_1' }]),
      node('call_function', 'getitem_2', 'operator.getitem', [{ ref: 'logprobs' }, 0]),
      node('call_function', 'mean', 'torch.mean', [{ ref: 'getitem_2' }]),
      node('output', 'output', 'output', [{ tuple: [{ ref: 'mul' }, { dict: { 'first:mean': { ref: 'mean' } } }] }]),
    ],
  });
  // What the SDK emits passes the protocol's checks as the server runs them.
  const req = parse(createCustomLossRequestSchema, JSON.parse(JSON.stringify({ session_id: 's', custom_loss_seq_id: 0, name: def.name, inputs: def.inputs, graph: def.graph })));
  checkCreateCustomLoss(req);
});

test('node names never collide with input names; slices, detach and constants encode as documented', () => {
  const def = traceCustomLoss({ name: 'n', datums: 1, inputs: { exp: 1 } }, ({ logprobs: lp, exp }) =>
    lp.at(0).slice(1, null).exp().detach().sum().add(exp.at(0).sum()).div(Number.NaN));
  const names = def.graph.nodes.map((n) => n.name);
  assert.equal(new Set(names).size, names.length);
  const call = def.graph.nodes.find((n) => n.target === 'torch.exp')!;
  assert.notEqual(call.name, 'exp');
  assert.deepEqual(def.graph.nodes.find((n) => n.name === 'getitem_1')!.args[1], { slice: [1, null, null] });
  assert.equal(def.graph.nodes.find((n) => n.target === 'detach')!.op, 'call_method');
  assert.deepEqual(def.graph.nodes.find((n) => n.target === 'operator.truediv')!.args[1], { float: 'nan' });
});

test('tracing refuses what the graph could not express', () => {
  assert.throws(() => traceCustomLoss({ name: 'x', datums: 2 }, ({ logprobs: lp }) => lp.at(2).sum()), /outside the 2 datums/);
  assert.throws(() => traceCustomLoss({ name: 'x', datums: 0 }, ({ logprobs: lp }) => lp.at(0).sum()), /datums must be a positive integer/);
  assert.throws(() => traceCustomLoss({ name: 'x', datums: 1, inputs: { w: 2 as 1 } }, ({ logprobs: lp }) => lp.at(0).sum()), /rank 0 or 1/);
  assert.throws(() => traceCustomLoss({ name: 'x', datums: 1 }, () => 3 as unknown as Sym), (e: unknown) => e instanceof ValidationError && /must return a Sym/.test(e.message));
  let leaked: Sym | undefined;
  traceCustomLoss({ name: 'a', datums: 1 }, ({ logprobs: lp }) => (leaked = lp.at(0).sum()));
  assert.throws(() => traceCustomLoss({ name: 'b', datums: 1 }, ({ logprobs: lp }) => lp.at(0).sum().add(leaked!)), /another trace/);
  assert.throws(() => traceCustomLoss({ name: 'b', datums: 1 }, () => Sym.mean([])), /empty/);
  assert.throws(() => traceCustomLoss({ name: 'b', datums: 1 }, ({ logprobs: lp }) => lp.at(0).at(0.5)), /not an integer/);
});
