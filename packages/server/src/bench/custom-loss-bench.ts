/**
 * One DPO step (forward_backward on two preference pairs) through a server-side custom loss (a
 * traced graph, one request and one pass) against forwardBackwardCustom (a forward request, the
 * loss on the client, then a backward request), on this server over loopback HTTP with the
 * smallest stand-in model. Both run in the same process, alternating, so the ratio is measured
 * under the same conditions. Target: the graph path at least 1.8× faster.
 *
 * The engine is wrapped to time its calls, which separates the passes' compute from the round
 * trips: on a compute-bound engine the speedup cannot exceed (2F + B) / (F + B), F a forward
 * pass and B the rest of a training pass, printed beside it.
 *
 * Usage: node dist/bench/custom-loss-bench.js [--steps 12] [--prompt 16] [--completion 16]
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngineHost } from '@tinker-ts/engine';
import { Datum, ServiceClient, Sym, TensorData, differentiable, dpoLoss, sequenceLogprob, traceCustomLoss, type CustomLossFn } from '@tinker-ts/sdk';
import { createApp } from '../app.js';
import type { EnginePort } from '../engine-port.js';

const TARGET_RATIO = 1.8;
const MODEL = 'tinker-ts/tiny-qwen3';
const API_KEY = 'tml-bench-custom-loss';
const BETA = 0.1;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const steps = arg('steps', 12);
  const promptLen = arg('prompt', 16);
  const completionLen = arg('completion', 16);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-custom-loss-bench-'));
  const host = await EngineHost.start({ niceness: 10 }); // as startServer does
  // Engine time of each forward_backward call, by whether it was forward-only; every other
  // method is the host's own (the wrapper inherits from it).
  const engineMs = { forward: [] as number[], training: [] as number[] };
  const engine: EnginePort = Object.create(host, {
    forwardBackward: {
      value: async (...args: Parameters<EngineHost['forwardBackward']>) => {
        const t = performance.now();
        const out = await host.forwardBackward(...args);
        (args[4] ? engineMs.forward : engineMs.training).push(performance.now() - t);
        return out;
      },
    },
  });
  const app = await createApp({ dataDir, engine, settings: { longPollMs: 2_000 } });
  const server = http.createServer((req, res) => app.router.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sc = new ServiceClient({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: API_KEY });
  try {
    const prompt = Array.from({ length: promptLen }, (_, i) => 100 + i);
    const completion = (seed: number) => Array.from({ length: completionLen }, (_, i) => 1000 + seed * 37 + i);
    const make = (c: number[]) => Datum.fromTokens([...prompt, ...c], [...prompt.map(() => 0), ...c.map(() => 1)]);
    const data = [make(completion(1)), make(completion(2)), make(completion(3)), make(completion(4))];
    const refs = [-40, -41, -42, -40.5];
    const graphData = data.map((d, i) => d.withLossFnInputs({ ref_logprob: TensorData.float32([refs[i]!]) }));

    const clientSide: CustomLossFn = differentiable((batch, lps) => {
      const seq = (i: number) => sequenceLogprob(lps[i]!, batch[i]!.lossFnInputs['weights']!.toArray());
      return dpoLoss([{ chosen: seq(0), rejected: seq(1), refChosen: refs[0]!, refRejected: refs[1]! }, { chosen: seq(2), rejected: seq(3), refChosen: refs[2]!, refRejected: refs[3]! }], BETA);
    });
    const traced = traceCustomLoss({ name: 'dpo', datums: 4, inputs: { weights: 1, ref_logprob: 0 } }, ({ logprobs: lp, weights, ref_logprob: ref }) => {
      const rel = (i: number) => lp.at(i).dot(weights.at(i)).sub(ref.at(i).sum());
      const margins = [0, 2].map((c) => rel(c).sub(rel(c + 1)).mul(BETA));
      return { loss: Sym.mean(margins.map((m) => m.logSigmoid().neg())), metrics: { 'dpo_margin:mean': Sym.mean(margins) } };
    });

    const [graphModel, twoPassModel] = await Promise.all([
      sc.createLoraTrainingClient({ baseModel: MODEL, rank: 8, seed: 1 }),
      sc.createLoraTrainingClient({ baseModel: MODEL, rank: 8, seed: 1 }),
    ]);
    const loss = await graphModel.createCustomLoss(traced);
    const graphStep = () => graphModel.forwardBackward(graphData, loss);
    const twoPassStep = () => twoPassModel.forwardBackwardCustom(data, clientSide);

    for (let i = 0; i < 2; i++) {
      await graphStep();
      await twoPassStep();
    }
    const graphMs: number[] = [];
    const twoPassMs: number[] = [];
    engineMs.forward.length = 0;
    engineMs.training.length = 0;
    let lossDiff = 0;
    const graphBeyond: number[] = [];
    const twoPassBeyond: number[] = [];
    const engineTotal = () => [...engineMs.forward, ...engineMs.training].reduce((a, b) => a + b, 0);
    for (let i = 0; i < steps; i++) {
      let e0 = engineTotal();
      let t = performance.now();
      const g = await graphStep();
      graphMs.push(performance.now() - t);
      graphBeyond.push(graphMs[i]! - (engineTotal() - e0));
      e0 = engineTotal();
      t = performance.now();
      const c = await twoPassStep();
      twoPassMs.push(performance.now() - t);
      twoPassBeyond.push(twoPassMs[i]! - (engineTotal() - e0));
      lossDiff = Math.max(lossDiff, Math.abs(g.metrics['dpo_margin:mean']! - c.metrics['dpo_margin:mean']!));
    }
    const g = median(graphMs);
    const c = median(twoPassMs);
    const ratio = c / g;
    console.log(`DPO step, ${data.length} datums × ${promptLen + completionLen - 1} tokens on ${MODEL}, median of ${steps}:`);
    console.log(`  server-side custom loss (1 request, 1 pass):   ${g.toFixed(1)} ms`);
    console.log(`  forwardBackwardCustom   (2 requests, 2 passes): ${c.toFixed(1)} ms`);
    console.log(`  speedup ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×) ${ratio >= TARGET_RATIO ? 'PASS' : 'MISS'}; max DPO margin difference ${lossDiff.toExponential(1)}`);
    const F = median(engineMs.forward);
    const FB = median(engineMs.training);
    console.log(`  engine: forward pass ${F.toFixed(1)} ms, training pass ${FB.toFixed(1)} ms; compute-bound ceiling (2F + B) / (F + B) = ${((F + FB) / FB).toFixed(2)}×`);
    console.log(`  beyond engine compute (median per step): ${median(graphBeyond).toFixed(1)} ms per graph step, ${median(twoPassBeyond).toFixed(1)} ms per two-pass step`);
    await Promise.all([graphModel.unload(), twoPassModel.unload()]);
  } finally {
    await sc.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await host.close();
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
