/**
 * The graph round trip: a loss traced by the SDK, sent as JSON and rebuilt by the server, computes
 * what the same loss written with the SDK's `Var` computes (value and d loss / d logprobs), and
 * anything outside the allow-list is refused with a 400 naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCustomLossRequestSchema, parse, type CreateCustomLossRequest } from '@tinker-ts/protocol';
import { evaluateLossProgram } from '@tinker-ts/engine';
import { Sym, Var, traceCustomLoss, type CustomLossDefinition } from '@tinker-ts/sdk';
import { ALLOWED_CUSTOM_LOSS_TARGETS, rebuildCustomLoss } from './custom-loss-graph.js';
import { BadRequestError } from './errors.js';

const LP = [[-0.3, -1.2, -2.5], [-0.7, -0.1]];
const W = [[1, 0.5, 0], [2, 1]];
const R = [[0.25], [-0.5]];

/** What the server receives: the SDK's definition as JSON, parsed by the route's schema. */
function overTheWire(def: CustomLossDefinition): CreateCustomLossRequest {
  const body = JSON.parse(JSON.stringify({ session_id: 's', custom_loss_seq_id: 0, name: def.name, inputs: def.inputs, graph: def.graph, type: 'create_custom_loss' }));
  return parse(createCustomLossRequestSchema, body);
}

function serverSide(def: CustomLossDefinition, lp: number[][]) {
  return evaluateLossProgram(rebuildCustomLoss(overTheWire(def)), { logprobs: lp, w: W, r: R }, true);
}

test('a traced loss rebuilt by the server computes what the same loss on Var computes', () => {
  const spec = { name: 'mix', datums: 2, inputs: { w: 1 as const, r: 0 as const } };
  const traced = traceCustomLoss(spec, ({ logprobs: lp, w, r }) => {
    const a = lp.at(0);
    const b = lp.at(1);
    const s0 = a.dot(w.at(0)).sub(r.at(0).sum());
    const s1 = Sym.dot([b.at(0), b.at(1)], [2, 1]).add(r.at(1).sum());
    const t = s0.mul(s1).div(s1.exp().add(1)).neg().add(s0.square()).sub(s1.pow(3).mul(0.01));
    const u = Sym.sum([a.at(0).sigmoid(), a.at(1).logSigmoid(), a.at(2).softplus(), b.at(0).neg().log(), b.at(1).mul(b.at(1).detach())]);
    return { loss: t.add(u).add(Sym.mean([a.sum(), b.mean()])), metrics: { 's0:mean': s0 } };
  });
  const reference = (lp: Var[][]) => {
    const [a, b] = lp as [Var[], Var[]];
    const s0 = Var.dot(a, W[0]!).sub(R[0]![0]!);
    const s1 = Var.dot(b, [2, 1]).add(R[1]![0]!);
    const t = s0.mul(s1).div(s1.exp().add(1)).neg().add(s0.square()).sub(s1.pow(3).mul(0.01));
    const u = Var.sum([a[0]!.sigmoid(), a[1]!.logSigmoid(), a[2]!.softplus(), b[0]!.neg().log(), b[1]!.mul(b[1]!.detach())]);
    return { loss: t.add(u).add(Var.mean([Var.sum(a), Var.mean(b)])), s0 };
  };
  const vars = LP.map((row) => row.map((x) => new Var(x)));
  const want = reference(vars);
  want.loss.backward();
  const got = serverSide(traced, LP);
  assert.ok(Math.abs(got.loss - want.loss.value) < 1e-12, `${got.loss} vs ${want.loss.value}`);
  assert.ok(Math.abs(got.metrics['s0:mean']! - want.s0.value) < 1e-12);
  vars.forEach((row, d) => row.forEach((v, k) => assert.ok(Math.abs(got.dlogprobs![d]![k]! - v.grad) < 1e-6 * Math.max(1, Math.abs(v.grad)), `[${d}][${k}] ${got.dlogprobs![d]![k]} vs ${v.grad}`)));
});

test('the ops Var lacks (clamp, where, gather, slices, cat, stack, maximum) survive the round trip and differentiate like finite differences', () => {
  const traced = traceCustomLoss({ name: 'more', datums: 2, inputs: { w: 1, r: 0 } }, ({ logprobs: lp, w }) => {
    const a = lp.at(0);
    const all = Sym.cat(lp);
    const picked = a.gather([2, 0, 0]);
    const hinge = Sym.where(a.gt(-1), a.mul(2), a.clamp(-2, null).square());
    const tail = Sym.cat([a.slice(1), lp.at(1).slice(null, 1)]);
    return all.exp().sum().add(picked.dot(picked)).add(hinge.sum()).add(tail.maximum(-1).minimum(-0.2).sum()).add(Sym.cat(w).dot(Sym.cat(lp)));
  });
  const h = 1e-6;
  const got = serverSide(traced, LP);
  LP.forEach((row, d) =>
    row.forEach((_, k) => {
      const at = (delta: number) => serverSide(traced, LP.map((r, i) => r.map((x, j) => (i === d && j === k ? x + delta : x)))).loss;
      const numeric = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(got.dlogprobs![d]![k]! - numeric) < 1e-5 * Math.max(1, Math.abs(numeric)), `[${d}][${k}] ${got.dlogprobs![d]![k]} vs ${numeric}`);
    }),
  );
  // The slice boundary and clamp picked real branches: the value is the hand-computed one.
  const [a, b] = LP as [number[], number[]];
  const hingeSum = a.reduce((s, x) => s + (x > -1 ? 2 * x : Math.max(x, -2) ** 2), 0);
  const tailSum = [a[1]!, a[2]!, b[0]!].reduce((s, x) => s + Math.min(Math.max(x, -1), -0.2), 0);
  const want = [...a, ...b].reduce((s, x) => s + Math.exp(x), 0) + (a[2]! ** 2 + 2 * a[0]! ** 2) + hingeSum + tailSum + [...W[0]!, ...W[1]!].reduce((s, x, i) => s + x * [...a, ...b][i]!, 0);
  assert.ok(Math.abs(got.loss - want) < 1e-9, `${got.loss} vs ${want}`);
});

test('the server refuses targets outside its allow-list, naming the node and the target', () => {
  const def = traceCustomLoss({ name: 'x', datums: 1 }, ({ logprobs: lp }) => lp.at(0).exp().sum());
  const tamper = (target: string, op = 'call_function') => {
    const req = overTheWire(def);
    const node = req.graph.nodes.find((n) => n.target === 'torch.exp')!;
    node.target = target;
    node.op = op as typeof node.op;
    return () => rebuildCustomLoss(req);
  };
  for (const [target, op] of [['builtins.eval', 'call_function'], ['torch.load', 'call_function'], ['__class__', 'call_method'], ['torch.exp', 'call_method']] as const) {
    assert.throws(tamper(target, op), (e: unknown) => e instanceof BadRequestError && e.status === 400 && e.message.includes(`node exp calls ${op} "${target}", which is not an allowed operation`), target);
  }
  assert.ok(ALLOWED_CUSTOM_LOSS_TARGETS.call_function.includes('torch.nn.functional.logsigmoid'));
  assert.ok(!ALLOWED_CUSTOM_LOSS_TARGETS.call_method.includes('__getattribute__'));
  // Inherited object keys are not operations either.
  assert.throws(tamper('constructor', 'call_method'), BadRequestError);
  assert.throws(tamper('toString'), BadRequestError);
});

test('calls with arguments the operation does not take are refused', () => {
  const def = traceCustomLoss({ name: 'x', datums: 1 }, ({ logprobs: lp }) => lp.at(0).clamp(-1, 0).sum());
  const edit = (change: (args: unknown[], kwargs: Record<string, unknown>) => void) => {
    const req = overTheWire(def);
    const node = req.graph.nodes.find((n) => n.target === 'torch.clamp')!;
    change(node.args, node.kwargs);
    return () => rebuildCustomLoss(req);
  };
  assert.throws(edit((_a, kw) => (kw['min'] = 1)), /min 1 is above max 0/);
  assert.throws(edit((_a, kw) => (kw['out'] = null)), /no keyword argument out/);
  assert.throws(edit((a) => a.push(1, 2, 3)), /at most 3 arguments/);
  assert.throws(edit((a) => (a[0] = { dtype: 'float32' })), /must be a tensor or a number, got dtype argument/);
  assert.throws(edit((a) => (a[0] = 'x')), /must be a tensor or a number/);
});
