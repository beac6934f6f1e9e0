/**
 * Server-side custom losses end to end, SDK against this server over real HTTP: a DPO loss traced
 * in TypeScript and registered once trains exactly like forwardBackwardCustom's two passes, in one
 * forward_backward request; graphs calling anything outside the allow-list, or malformed, get a
 * 400; a loss that fails on the batch fails its future with category "user".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestError,
  Datum,
  RequestFailedError,
  ServiceClient,
  Sym,
  TensorData,
  ValidationError,
  differentiable,
  dpoLoss,
  evaluateCustomLoss,
  sequenceLogprob,
  traceCustomLoss,
  type CustomLossFn,
  type ForwardBackwardOutput,
  type TrainingClient,
} from '@tinker-ts/sdk';
import { E2E_API_KEY, E2E_MODEL, maxAbsDiff, startClientConfigProxy, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let env: InProcessServer;

before(async () => {
  env = await startInProcessServer('tinker-custom-loss-graph-');
});

after(async () => {
  await env?.close();
});

const logprobs = (out: ForwardBackwardOutput): number[][] => out.lossFnOutputs.map((o) => o['logprobs']!.toArray());
const newModel = (sc: ServiceClient, seed: number): Promise<TrainingClient> => sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed }).then((tc) => tc);

const REFS = [-30, -31, -20, -22];
const BETA = 0.5;

/** Chosen/rejected completions after a shared prompt; the weights mask the completion tokens. */
function preferencePairs(): Datum[] {
  const prompt = [7, 8, 9];
  const make = (completion: number[]) => Datum.fromTokens([...prompt, ...completion], [...prompt.map(() => 0), ...completion.map(() => 1)]);
  return [make([40, 41, 42]), make([50, 51, 52]), make([60, 61]), make([70, 71, 72, 73])];
}

/** The client-side DPO (two passes): pairs (0,1), (2,3), reference logprobs as constants. */
const dpo: CustomLossFn = differentiable((data, lps) => {
  const seq = (i: number) => sequenceLogprob(lps[i]!, data[i]!.lossFnInputs['weights']!.toArray());
  return dpoLoss(
    [
      { chosen: seq(0), rejected: seq(1), refChosen: REFS[0]!, refRejected: REFS[1]! },
      { chosen: seq(2), rejected: seq(3), refChosen: REFS[2]!, refRejected: REFS[3]! },
    ],
    BETA,
  );
});

/** The same DPO traced for the server: the mask and reference logprobs travel as loss_fn_inputs. */
const tracedDpo = traceCustomLoss({ name: 'dpo', datums: 4, inputs: { weights: 1, ref_logprob: 0 } }, ({ logprobs: lp, weights, ref_logprob: ref }) => {
  const rel = (i: number) => lp.at(i).dot(weights.at(i)).sub(ref.at(i).sum());
  const margins = [0, 2].map((c) => rel(c).sub(rel(c + 1)).mul(BETA));
  return {
    loss: Sym.mean(margins.map((m) => m.logSigmoid().neg())),
    metrics: { 'dpo_margin:mean': Sym.mean(margins), 'dpo_accuracy:mean': Sym.mean(margins.map((m) => m.gt(0))) },
  };
});

const withRefs = (data: Datum[]) => data.map((d, i) => d.withLossFnInputs({ ref_logprob: TensorData.float32([REFS[i]!]) }));

test('a traced DPO loss trains exactly like forwardBackwardCustom, in one forward_backward request', async () => {
  const proxy = await startClientConfigProxy(env.server.url, {});
  const sc = new ServiceClient({ baseURL: proxy.url, apiKey: E2E_API_KEY });
  try {
    const [graph, twoPass] = await Promise.all([newModel(sc, 11), newModel(sc, 11)]);
    const data = preferencePairs();
    const loss = await graph.createCustomLoss(tracedDpo);
    assert.match(loss.lossId, /:loss:0$/);

    const before = logprobs(await twoPass.forward(data, 'cross_entropy'));
    const expected = evaluateCustomLoss(dpo, data, before.map((lp) => Float32Array.from(lp)));

    const calls = () => proxy.requestCounts.get('/api/v1/forward_backward') ?? 0;
    const start = calls();
    const out = await graph.forwardBackward(withRefs(data), loss);
    assert.equal(calls() - start, 1, 'one request');
    assert.ok(Math.abs(out.metrics['loss:sum']! - expected.loss) < 1e-5, `loss ${out.metrics['loss:sum']} vs ${expected.loss}`);
    assert.ok(Math.abs(out.metrics['dpo_margin:mean']! - expected.metrics['dpo_margin:mean']!) < 1e-4);
    assert.equal(out.metrics['dpo_accuracy:mean'], expected.metrics['dpo_accuracy:mean']);
    logprobs(out).forEach((lp, i) => assert.ok(maxAbsDiff(lp, before[i]!) <= 1e-5, 'outputs are the logprobs in datum order'));

    const mid = calls();
    await twoPass.forwardBackwardCustom(data, dpo);
    assert.equal(calls() - mid, 2, 'forwardBackwardCustom needs two');

    await Promise.all([graph.optimStep({ learningRate: 1e-2 }), twoPass.optimStep({ learningRate: 1e-2 })]);
    const [a, b] = await Promise.all([graph.forward(data, 'cross_entropy'), twoPass.forward(data, 'cross_entropy')]);
    const diff = maxAbsDiff(logprobs(a).flat(), logprobs(b).flat());
    assert.ok(diff <= 1e-5, `same update (max logprob diff ${diff})`);
    assert.ok(maxAbsDiff(logprobs(a).flat(), before.flat()) > 1e-3, 'the step changed the model');

    // forward with the loss evaluates it without training; `{ lossId }` names it as well.
    const fwd = await graph.forward(withRefs(data), { lossId: loss.lossId });
    const after = evaluateCustomLoss(dpo, data, logprobs(a).map((lp) => Float32Array.from(lp)));
    assert.ok(Math.abs(fwd.metrics['loss:sum']! - after.loss) < 1e-5);
    assert.ok(after.loss < expected.loss, `DPO loss falls: ${expected.loss} → ${after.loss}`);
    await Promise.all([graph.unload(), twoPass.unload()]);
  } finally {
    await sc.close();
    await proxy.close();
  }
});

/** A raw create_custom_loss body of this user's session, to send what the SDK would refuse. */
async function rawCreate(body: Record<string, unknown>): Promise<{ status: number; json: { error?: string; detail?: string; field?: string; loss_id?: string } }> {
  const post = (route: string, b: unknown) =>
    fetch(`${env.server.url}/api/v1/${route}`, { method: 'POST', headers: { 'X-API-Key': E2E_API_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
  const session = (await (await post('create_session', { tags: [], user_metadata: null, sdk_version: '0.38.0' })).json()) as { session_id: string };
  const res = await post('create_custom_loss', { session_id: session.session_id, custom_loss_seq_id: 0, name: 'raw', type: 'create_custom_loss', ...body });
  return { status: res.status, json: (await res.json()) as { error?: string; field?: string } };
}

const node = (op: string, name: string, target: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}) => ({ op, name, target, args, kwargs });
const LP = [{ name: 'logprobs', rank: 1 }];
const graphOf = (...nodes: unknown[]) => ({ format: 1, nodes: [node('placeholder', 'logprobs', 'logprobs'), ...nodes] });
const textOf = (r: { json: { error?: string; detail?: string; field?: string } }) => `${r.json.error ?? r.json.detail ?? ''} ${r.json.field ?? ''}`;

test('graphs that call anything outside the allow-list, or are malformed, get a 400 naming the problem', async () => {
  const ok = await rawCreate({
    inputs: LP,
    graph: graphOf(node('call_function', 'getitem', 'operator.getitem', [{ ref: 'logprobs' }, 0]), node('call_method', 'sum', 'sum', [{ ref: 'getitem' }]), node('output', 'output', 'output', [{ ref: 'sum' }])),
  });
  assert.equal(ok.status, 200, textOf(ok));
  assert.match(ok.json.loss_id!, /:loss:0$/);

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a function outside the allow-list', { inputs: LP, graph: graphOf(node('call_function', 'system', 'os.system', ['rm -rf /']), node('output', 'output', 'output', [{ ref: 'system' }])) }, /"os\.system", which is not an allowed operation/],
    ['a method outside the allow-list', { inputs: LP, graph: graphOf(node('call_method', 'x', '__reduce__', [{ ref: 'logprobs' }]), node('output', 'output', 'output', [{ ref: 'x' }])) }, /"__reduce__", which is not an allowed operation/],
    ['get_attr', { inputs: LP, graph: graphOf(node('get_attr', 'w', 'weight'), node('output', 'output', 'output', [{ ref: 'w' }])) }, /get_attr "weight" is not allowed/],
    ['a reference to a later node', { inputs: LP, graph: graphOf(node('call_function', 'a', 'torch.exp', [{ ref: 'b' }]), node('output', 'output', 'output', [{ ref: 'a' }])) }, /"b" is not the name of an earlier node/],
    ['an unknown arg encoding', { inputs: LP, graph: graphOf(node('call_function', 'a', 'torch.exp', [{ pickle: 'gASV' }]), node('output', 'output', 'output', [{ ref: 'a' }])) }, /unknown argument encoding "pickle"/],
    ['args nested too deep', { inputs: LP, graph: graphOf(node('call_function', 'a', 'torch.stack', [[[[[[[[[[1]]]]]]]]]]), node('output', 'output', 'output', [{ ref: 'a' }])) }, /nest at most 8 deep/],
    ['no output node', { inputs: LP, graph: graphOf(node('call_function', 'a', 'torch.exp', [{ ref: 'logprobs' }])) }, /must end with an output node/],
    ['a duplicate node name', { inputs: LP, graph: graphOf(node('call_function', 'logprobs', 'torch.exp', [1]), node('output', 'output', 'output', [1])) }, /used twice/],
    ['logprobs not first', { inputs: [{ name: 'w', rank: 1 }], graph: { format: 1, nodes: [node('placeholder', 'w', 'w'), node('output', 'output', 'output', [1])] } }, /first input must be/],
    ['a placeholder for no input', { inputs: LP, graph: graphOf(node('placeholder', 'extra', 'extra'), node('output', 'output', 'output', [1])) }, /more placeholders than/],
    ['a bad name', { inputs: LP, graph: graphOf(node('call_function', 'a b', 'torch.exp', [1]), node('output', 'output', 'output', [1])) }, /identifier/],
    ['format 2', { inputs: LP, graph: { format: 2, nodes: [] } }, /format/],
    ['rank 2', { inputs: [{ name: 'logprobs', rank: 2 }], graph: graphOf(node('output', 'output', 'output', [1])) }, /rank/],
    ['an unknown keyword', { inputs: LP, graph: graphOf(node('call_function', 's', 'torch.sum', [{ ref: 'logprobs' }], { keepdim: true }), node('output', 'output', 'output', [{ ref: 's' }])) }, /no keyword argument keepdim/],
    ['a list as the loss', { inputs: LP, graph: graphOf(node('output', 'output', 'output', [{ ref: 'logprobs' }])) }, /per-datum list/],
  ];
  for (const [what, body, message] of cases) {
    const r = await rawCreate(body);
    assert.equal(r.status, 400, `${what}: ${r.status} ${textOf(r)}`);
    assert.match(textOf(r), message, what);
  }
  const tooMany = await rawCreate({ inputs: LP, graph: graphOf(...Array.from({ length: 4096 }, (_, i) => node('call_function', `n${i}`, 'torch.exp', [1]))) });
  assert.equal(tooMany.status, 400);
  assert.match(textOf(tooMany), /at most 4096/);
});

test('the SDK refuses bad losses and batches before sending; a loss that fails on the batch fails with category "user"', async () => {
  const tc = await newModel(env.sc, 3);
  // The SDK checks the graph locally too.
  const bad = { ...tracedDpo, graph: { format: 1 as const, nodes: tracedDpo.graph.nodes.slice(0, -1) } };
  assert.throws(() => tc.createCustomLoss(bad), (e: unknown) => e instanceof ValidationError && /output node/.test(e.message));
  assert.throws(() => traceCustomLoss({ name: 'x', datums: 2 }, ({ logprobs: lp }) => lp.at(2).sum()), ValidationError);
  // Well-formed but not allowed: only the server knows its allow-list; its 400 is the user's error.
  const evil = { ...tracedDpo, graph: { format: 1 as const, nodes: tracedDpo.graph.nodes.map((n) => (n.target === 'torch.nn.functional.logsigmoid' ? { ...n, target: 'subprocess.run' } : n)) } };
  await assert.rejects(async () => tc.createCustomLoss(evil), (e: unknown) => e instanceof BadRequestError && e.category === 'user' && /"subprocess\.run", which is not an allowed operation/.test(e.message));

  const loss = await tc.createCustomLoss(tracedDpo);
  assert.throws(() => tc.forwardBackward(withRefs(preferencePairs()).slice(0, 3), loss), /traced for 4 datums/);
  assert.throws(() => tc.forwardBackward(preferencePairs(), loss), (e: unknown) => e instanceof ValidationError && /ref_logprob/.test(e.message));
  assert.throws(() => tc.forwardBackward(withRefs(preferencePairs()), loss, { beta: 1 }), /no loss_fn_config/);

  // By id the SDK cannot count datums: the server sees the loss index datum 3 of a batch of 2.
  await assert.rejects(
    async () => tc.forwardBackward(withRefs(preferencePairs()).slice(0, 2), { lossId: loss.lossId }),
    (e: unknown) => e instanceof RequestFailedError && e.category === 'user' && /outside the 2 datums/.test(e.message),
  );
  // Data that does not fit the loss's inputs, and unknown ids, are 400s at submission.
  await assert.rejects(async () => tc.forwardBackward(preferencePairs(), { lossId: loss.lossId }), (e: unknown) => e instanceof BadRequestError && /ref_logprob/.test(e.message));
  await assert.rejects(async () => tc.forwardBackward(withRefs(preferencePairs()), { lossId: 'no-such-loss' }), (e: unknown) => e instanceof BadRequestError && /no custom loss no-such-loss/.test(e.message));
  // A loss of another session is not this session's.
  const other = new ServiceClient({ baseURL: env.server.url, apiKey: E2E_API_KEY });
  try {
    const tc2 = await newModel(other, 3);
    await assert.rejects(async () => tc2.forwardBackward(withRefs(preferencePairs()), { lossId: loss.lossId }), BadRequestError);
  } finally {
    await other.close();
  }
  await tc.unload();
});
