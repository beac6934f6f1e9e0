/**
 * Engine benchmark: GEMM share of peak, LoRA training-step and decode throughput on (a) the
 * 8.4M-parameter Llama (4 layers, d=256), (b) a Qwen3-0.6B-shaped model and (c) a Qwen3-MoE-shaped
 * model, peak RSS, and the same steps in PyTorch (bench/torch_reference.py) when /usr/bin/python3
 * has torch; the MoE case runs transformers + PEFT (bench/torch_moe_reference.py) with the Python
 * named by TINKER_TORCH_PYTHON.
 * Run: npm run bench -w @tinker-ts/engine  (node dist/bench/engine-bench.js)
 * Each case also runs the same LoRA step with the base weights in bf16 and in f32 (our engine
 * both times) and prints the step-time and base-weight memory ratios.
 * Flags: --case llama8m|qwen3_06b|qwen3_moe runs one model only; --decode-only skips the GEMM table, the
 * training step and the PyTorch reference (a quick check of the decode numbers alone);
 * --dtype-only runs the bf16-vs-f32 comparison alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Datum } from '@tinker-ts/protocol';
import { nativeBf16GemmKernel, nativeKernels, openblasCoreName } from '../native-kernels.js';
import { baseWeightBytes, convertWeights, type FrozenWeight } from '../weight-dtype.js';
import { compareGemmStrategies, runGemmBench } from './gemm-bench.js';
import { createAdapterState, randomModelWeights } from '../init.js';
import { Prng } from '../prng.js';
import { runForwardBackward, runOptimStep } from '../training.js';
import { runSampling } from '../sampler.js';
import type { LayerWeights, LoadedModel, ModelConfig, ModelWeights } from '../model-types.js';
import { isSparseLayer } from '../moe-config.js';

interface BenchCase {
  key: 'llama8m' | 'qwen3_06b' | 'qwen3_moe';
  title: string;
  config: ModelConfig;
  batch: number;
  seq: number;
  rank: number;
  warmupSteps: number;
  timedSteps: number;
  decodeTokens: number;
  /** Tokens per sample in the 16-sample decode. */
  decodeTokensBatched: number;
}

interface CaseResult {
  trainTokPerSec: number;
  stepMs: number;
  decode1TokPerSec: number;
  decode16TokPerSec: number;
}

const CASES: BenchCase[] = [
  {
    key: 'llama8m',
    title: '(a) Llama 8.4M (4 layers, d=256, 8 heads, ff 1024, vocab 8192), batch 8×256, LoRA r=8 on all linears',
    config: {
      family: 'llama', vocabSize: 8192, hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 8, numKvHeads: 8, headDim: 32,
      rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 1024, tieWordEmbeddings: false, bosTokenId: null, eosTokenIds: [],
    },
    batch: 8, seq: 256, rank: 8, warmupSteps: 2, timedSteps: 6, decodeTokens: 128, decodeTokensBatched: 64,
  },
  {
    key: 'qwen3_06b',
    title: '(b) Qwen3-0.6B shape (28 layers, d=1024, 16/8 heads, hd 128, ff 3072, vocab 151936, tied), batch 1×128, LoRA r=8',
    config: {
      family: 'qwen3', vocabSize: 151936, hiddenSize: 1024, intermediateSize: 3072, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128,
      rmsNormEps: 1e-6, ropeTheta: 1_000_000, ropeScaling: null, maxPositionEmbeddings: 4096, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [],
    },
    batch: 1, seq: 128, rank: 8, warmupSteps: 1, timedSteps: 2, decodeTokens: 16, decodeTokensBatched: 8,
  },
  {
    key: 'qwen3_moe',
    title: '(c) Qwen3-MoE shape (4 layers, d=512, 8/4 heads, hd 64, 32 experts top-4 of ff 192, vocab 8192), batch 4×256, LoRA r=8 on attention and experts',
    config: {
      family: 'qwen3', vocabSize: 8192, hiddenSize: 512, intermediateSize: 2048, numLayers: 4, numHeads: 8, numKvHeads: 4, headDim: 64,
      rmsNormEps: 1e-6, ropeTheta: 1_000_000, ropeScaling: null, maxPositionEmbeddings: 4096, tieWordEmbeddings: false, bosTokenId: null, eosTokenIds: [],
      moe: { numExperts: 32, numExpertsPerTok: 4, moeIntermediateSize: 192, normTopkProb: true, decoderSparseStep: 1, mlpOnlyLayers: [] },
    },
    batch: 4, seq: 256, rank: 8, warmupSteps: 1, timedSteps: 3, decodeTokens: 32, decodeTokensBatched: 16,
  },
];

/**
 * Random weights for large shapes: tensors are filled from one pool of normal draws at random
 * offsets, because drawing 600M normals one by one takes most of a minute. Throughput does not
 * depend on the values.
 */
function quickRandomWeights(cfg: ModelConfig, seed: number): ModelWeights {
  const poolSize = 1 << 22;
  const rng = new Prng(seed, 'pool');
  const pool = rng.fillNormal(new Float32Array(poolSize), 0, 0.02);
  const fill = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += poolSize / 2) {
      const off = Math.floor(rng.uniform() * (poolSize / 2));
      out.set(pool.subarray(off, off + Math.min(poolSize / 2, n - i)), i);
    }
    return out;
  };
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const d = cfg.hiddenSize, q = cfg.numHeads * cfg.headDim, kv = cfg.numKvHeads * cfg.headDim, ff = cfg.intermediateSize;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const sparse = isSparseLayer(cfg, l);
    const E = cfg.moe?.numExperts ?? 0;
    const ffe = cfg.moe?.moeIntermediateSize ?? 0;
    layers.push({
      inputNorm: ones(d), q: fill(q * d), k: fill(kv * d), v: fill(kv * d), o: fill(d * q),
      qNorm: cfg.family === 'qwen3' ? ones(cfg.headDim) : null, kNorm: cfg.family === 'qwen3' ? ones(cfg.headDim) : null,
      postAttnNorm: ones(d), gate: fill(sparse ? 0 : ff * d), up: fill(sparse ? 0 : ff * d), down: fill(sparse ? 0 : d * ff),
      moe: sparse ? { router: fill(E * d), gateUp: fill(E * 2 * ffe * d), down: fill(E * d * ffe) } : null,
    });
  }
  return { embed: fill(cfg.vocabSize * d), layers, finalNorm: ones(d), lmHead: cfg.tieWordEmbeddings ? null : fill(cfg.vocabSize * d) };
}

function randomBatch(c: BenchCase): Datum[] {
  const rng = new Prng(7, 'tokens');
  return Array.from({ length: c.batch }, () => {
    const tokens = Array.from({ length: c.seq + 1 }, () => Math.floor(rng.uniform() * c.config.vocabSize));
    return {
      model_input: { chunks: [{ type: 'encoded_text' as const, tokens: tokens.slice(0, -1) }] },
      loss_fn_inputs: {
        target_tokens: { data: tokens.slice(1), dtype: 'int64' as const, shape: [c.seq] },
        weights: { data: new Array(c.seq).fill(1), dtype: 'float32' as const, shape: [c.seq] },
      },
    };
  });
}

interface DtypeComparison {
  f32StepMs: number;
  bf16StepMs: number;
  f32Bytes: number;
  bf16Bytes: number;
  /** Decoding one sequence (tokens/s, the prompt excluded). */
  f32Decode1TokPerSec: number;
  bf16Decode1TokPerSec: number;
}

/** Tokens/s decoding one sequence: (prefill + n tokens) minus (prefill + 1 token), median of 3. */
function decodeOneRate(c: BenchCase, model: LoadedModel<FrozenWeight>): number {
  const ctx = { kernels: nativeKernels, model, adapter: null, maxContextLength: c.config.maxPositionEmbeddings, decode: null };
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 31 + 5) % c.config.vocabSize);
  const time = (n: number): number => {
    const s = performance.now();
    runSampling(ctx, {
      prompt, numSamples: 1, promptLogprobs: false, topkPromptLogprobs: 0,
      params: { maxTokens: n, temperature: 1, topK: -1, topP: 1, seed: 3, stopTokenIds: [], stopStrings: [] },
    });
    return performance.now() - s;
  };
  time(2);
  const diffs = [0, 1, 2].map(() => time(c.decodeTokens) - time(1));
  return (c.decodeTokens - 1) / (median(diffs) / 1000);
}

/**
 * The same LoRA step (same batch, a fresh adapter each) on the same weights stored in f32 and
 * in bf16, steps alternating between the two so that other load on the machine hits both alike.
 */
function compareDtypes(c: BenchCase): DtypeComparison {
  const f32 = c.key === 'llama8m' ? randomModelWeights(c.config, 1) : quickRandomWeights(c.config, 1);
  const models: Record<'f32' | 'bf16', LoadedModel<FrozenWeight>> = {
    f32: { name: c.key, config: c.config, weights: f32 },
    bf16: { name: `${c.key}-bf16`, config: c.config, weights: convertWeights(f32, 'bf16') },
  };
  const data = randomBatch(c);
  const adam = { learning_rate: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0, grad_clip_norm: 0 };
  const settings = { rank: c.rank, alpha: 16, seed: 0, trainAttn: true, trainMlp: true, trainUnembed: false };
  const adapters = { f32: createAdapterState(c.config, settings), bf16: createAdapterState(c.config, settings) };
  const times: Record<'f32' | 'bf16', number[]> = { f32: [], bf16: [] };
  for (let i = 0; i < c.warmupSteps + c.timedSteps; i++) {
    for (const dtype of i % 2 === 0 ? (['f32', 'bf16'] as const) : (['bf16', 'f32'] as const)) {
      const s = performance.now();
      runForwardBackward(nativeKernels, models[dtype], adapters[dtype], data, 'cross_entropy', null, false);
      runOptimStep(nativeKernels, adapters[dtype], adam);
      if (i >= c.warmupSteps) times[dtype].push(performance.now() - s);
    }
  }
  return {
    f32StepMs: median(times.f32), bf16StepMs: median(times.bf16),
    f32Bytes: baseWeightBytes(models.f32.weights), bf16Bytes: baseWeightBytes(models.bf16.weights),
    f32Decode1TokPerSec: decodeOneRate(c, models.f32), bf16Decode1TokPerSec: decodeOneRate(c, models.bf16),
  };
}

function printDtypeComparison(c: BenchCase): void {
  const r = compareDtypes(c);
  const speedup = r.f32StepMs / r.bf16StepMs;
  const memory = r.bf16Bytes / r.f32Bytes;
  console.log(`  bf16 vs f32 base weights (our engine, bf16 GEMM kernel ${nativeBf16GemmKernel()}), interleaved medians  [load ${loadavg()[0].toFixed(2)}]:`);
  console.log(`    LoRA step: f32 ${fmt(r.f32StepMs)} ms, bf16 ${fmt(r.bf16StepMs)} ms → bf16 ${speedup.toFixed(2)}× faster (target ≥ 1.6×: ${speedup >= 1.6 ? 'MET' : 'NOT MET'})`);
  console.log(`    decode, 1 sequence: f32 ${fmt(r.f32Decode1TokPerSec)} tok/s, bf16 ${fmt(r.bf16Decode1TokPerSec)} tok/s → ${(r.bf16Decode1TokPerSec / r.f32Decode1TokPerSec).toFixed(2)}×`);
  console.log(`    base weights: f32 ${(r.f32Bytes / 2 ** 20).toFixed(1)} MiB, bf16 ${(r.bf16Bytes / 2 ** 20).toFixed(1)} MiB → ${memory.toFixed(3)} of f32 (target ≤ 0.55: ${memory <= 0.55 ? 'MET' : 'NOT MET'})`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function runCase(c: BenchCase, decodeOnly: boolean): CaseResult {
  const t0 = performance.now();
  const weights = c.key === 'llama8m' ? randomModelWeights(c.config, 1) : quickRandomWeights(c.config, 1);
  const model: LoadedModel<FrozenWeight> = { name: c.key, config: c.config, weights };
  const adapter = createAdapterState(c.config, { rank: c.rank, alpha: 16, seed: 0, trainAttn: true, trainMlp: true, trainUnembed: false });
  console.log(`  weights ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const data = randomBatch(c);
  const adam = { learning_rate: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0, grad_clip_norm: 0 };
  const times: number[] = [];
  for (let i = 0; !decodeOnly && i < c.warmupSteps + c.timedSteps; i++) {
    const s = performance.now();
    runForwardBackward(nativeKernels, model, adapter, data, 'cross_entropy', null, false);
    runOptimStep(nativeKernels, adapter, adam);
    if (i >= c.warmupSteps) times.push(performance.now() - s);
  }
  const stepMs = decodeOnly ? NaN : median(times);
  const tokens = c.batch * c.seq;

  const ctx = { kernels: nativeKernels, model, adapter, maxContextLength: c.config.maxPositionEmbeddings, decode: null };
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 31 + 5) % c.config.vocabSize);
  const params = (n: number) => ({ maxTokens: n, temperature: 1, topK: -1, topP: 1, seed: 3, stopTokenIds: [], stopStrings: [] });
  // Decode rate excludes the prompt: time (prefill + n tokens) minus time (prefill + 1 token).
  const timeSample = (numSamples: number, n: number): number => {
    const s = performance.now();
    runSampling(ctx, { prompt, numSamples, params: params(n), promptLogprobs: false, topkPromptLogprobs: 0 });
    return performance.now() - s;
  };
  // Each difference is taken 3 times, alternating single and batched runs, and the median kept:
  // one pair alone swings by 2× when other processes share the cores.
  timeSample(1, 2);
  const d1s: number[] = [];
  const d16s: number[] = [];
  for (let r = 0; r < 3; r++) {
    d1s.push(timeSample(1, c.decodeTokens) - timeSample(1, 1));
    d16s.push(timeSample(16, c.decodeTokensBatched) - timeSample(16, 1));
  }
  const d1 = median(d1s);
  const d16 = median(d16s);
  return {
    stepMs,
    trainTokPerSec: tokens / (stepMs / 1000),
    decode1TokPerSec: (c.decodeTokens - 1) / (d1 / 1000),
    decode16TokPerSec: (16 * (c.decodeTokensBatched - 1)) / (d16 / 1000),
  };
}

interface TorchResult { train_tok_per_s: number; step_ms: number; decode1_tok_per_s: number; decode16_tok_per_s: number; torch: string; loss_per_token: number;
  threads: { train: number; decode1: number; decode16: number } }

function torchScriptPath(): string {
  // dist/bench/engine-bench.js → src/bench/torch_reference.py
  return fileURLToPath(new URL('../../src/bench/torch_reference.py', import.meta.url));
}

function trainableOf(c: BenchCase): number {
  let n = 0;
  const adapter = createAdapterState(c.config, { rank: c.rank, alpha: 16, seed: 0, trainAttn: true, trainMlp: true, trainUnembed: false });
  for (const p of adapter.params.values()) n += p.A.length + p.B.length;
  return n;
}

/** transformers + PEFT on the MoE shape; needs a Python with torch, transformers and peft. */
function runTorchMoe(c: BenchCase): TorchResult | string {
  const python = process.env.TINKER_TORCH_PYTHON;
  if (!python) return 'torch: set TINKER_TORCH_PYTHON to a Python with torch, transformers and peft for the MoE reference';
  const cfg = c.config;
  const m = cfg.moe!;
  const args = [fileURLToPath(new URL('../../src/bench/torch_moe_reference.py', import.meta.url)), '--json',
    '--layers', String(cfg.numLayers), '--d', String(cfg.hiddenSize), '--heads', String(cfg.numHeads), '--kv-heads', String(cfg.numKvHeads),
    '--head-dim', String(cfg.headDim), '--experts', String(m.numExperts), '--top-k', String(m.numExpertsPerTok), '--moe-ff', String(m.moeIntermediateSize),
    '--vocab', String(cfg.vocabSize), '--batch', String(c.batch), '--seq', String(c.seq), '--rank', String(c.rank),
    '--warmup', String(c.warmupSteps), '--steps', String(c.timedSteps),
    '--decode-tokens', String(c.decodeTokens), '--decode-tokens-batched', String(c.decodeTokensBatched)];
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.status !== 0) return `torch: MoE reference failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
  const t = JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult & { trainable: number };
  console.log(`  trainable LoRA parameters: torch+PEFT ${t.trainable}, ours ${trainableOf(c)}`);
  return t;
}

function runTorch(c: BenchCase): TorchResult | string {
  if (c.config.moe) return runTorchMoe(c);
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return 'torch: /usr/bin/python3 not found';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'torch: not installed (apt-get install python3-torch)';
  const cfg = c.config;
  const args = [torchScriptPath(), '--json',
    '--layers', String(cfg.numLayers), '--d', String(cfg.hiddenSize), '--heads', String(cfg.numHeads), '--kv-heads', String(cfg.numKvHeads),
    '--head-dim', String(cfg.headDim), '--rope-theta', String(cfg.ropeTheta), '--eps', String(cfg.rmsNormEps),
    '--lora-alpha', '16', '--ff', String(cfg.intermediateSize), '--vocab', String(cfg.vocabSize),
    '--tied', String(cfg.tieWordEmbeddings ? 1 : 0), '--qk-norm', String(cfg.family === 'qwen3' ? 1 : 0),
    '--batch', String(c.batch), '--seq', String(c.seq), '--rank', String(c.rank),
    '--warmup', String(c.warmupSteps), '--steps', String(c.timedSteps),
    '--decode-tokens', String(c.decodeTokens), '--decode-tokens-batched', String(c.decodeTokensBatched)];
  const env = { ...process.env };
  delete env.OPENBLAS_NUM_THREADS; // the script sets its own best configuration
  const r = spawnSync(python, args, { encoding: 'utf8', env, timeout: 20 * 60_000 });
  if (r.status !== 0) return `torch: reference failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as TorchResult;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

interface BenchOptions {
  /** Only these cases (default: all). */
  cases: BenchCase[];
  /** Decode throughput only: no GEMM table, training step or PyTorch reference. */
  decodeOnly: boolean;
  /** The bf16-vs-f32 comparison only. */
  dtypeOnly: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = { cases: CASES, decodeOnly: false, dtypeOnly: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--decode-only') {
      options.decodeOnly = true;
    } else if (argv[i] === '--dtype-only') {
      options.dtypeOnly = true;
    } else if (argv[i] === '--case') {
      const key = argv[++i];
      options.cases = CASES.filter((c) => c.key === key);
      if (options.cases.length === 0) throw new Error(`unknown case "${key}" (expected ${CASES.map((c) => c.key).join(' or ')})`);
    } else {
      throw new Error(`unknown flag "${argv[i]}" (expected --case <name>, --decode-only or --dtype-only)`);
    }
  }
  return options;
}

function main(): void {
  const start = performance.now();
  const options = parseOptions(process.argv.slice(2));
  console.log(`tinker-ts engine bench — OpenBLAS core: ${openblasCoreName()} (kernels ${nativeKernels.name})`);
  // Other work on the machine skews every number below; the load average says how much.
  console.log(`load average: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (options.dtypeOnly) {
    for (const c of options.cases) {
      console.log(`\n${c.title}`);
      printDtypeComparison(c);
    }
    return;
  }
  if (!options.decodeOnly) {
    console.log('\nGEMM (native sgemm vs measured FMA peak):');
    const gemm = runGemmBench({ repeats: 3 });
    const largeShare = Math.min(...gemm.cases.map((c) => c.fractionOfPeak));
    console.log(`  target: large GEMMs ≥ 70% of peak → worst ${(100 * largeShare).toFixed(0)}% ${largeShare >= 0.7 ? 'MET' : 'NOT MET'}`);
    console.log('\nThin and decode GEMMs, OpenBLAS threads for all ("blas") vs the engine\'s plan ("planned"), interleaved medians:');
    compareGemmStrategies(['blas', 'planned']);
  }
  for (const c of options.cases) {
    console.log(`\n${c.title}   [load ${loadavg()[0].toFixed(2)}]`);
    const r = runCase(c, options.decodeOnly);
    if (!options.decodeOnly) console.log(`  LoRA train step (fwd+bwd+AdamW): ${fmt(r.stepMs)} ms median → ${fmt(r.trainTokPerSec)} tok/s`);
    console.log(`  decode, 1 sequence:  ${fmt(r.decode1TokPerSec)} tok/s`);
    console.log(`  decode, 16 samples:  ${fmt(r.decode16TokPerSec)} tok/s (all samples together)`);
    const batchGain = r.decode16TokPerSec / r.decode1TokPerSec;
    console.log(`  16-sample / single-sequence decode: ${batchGain.toFixed(2)}× (target ≥ 6×: ${batchGain >= 6 ? 'MET' : 'NOT MET'})`);
    if (options.decodeOnly) continue;
    printDtypeComparison(c);
    const t = runTorch(c);
    if (typeof t === 'string') {
      console.log(`  ${t}`);
    } else {
      console.log(`  torch reference: step ${fmt(t.step_ms)} ms, train ${fmt(t.train_tok_per_s)} tok/s, decode ${fmt(t.decode1_tok_per_s)} / ${fmt(t.decode16_tok_per_s)} tok/s`);
      const train = r.trainTokPerSec / t.train_tok_per_s;
      const dec1 = r.decode1TokPerSec / t.decode1_tok_per_s;
      const dec16 = r.decode16TokPerSec / t.decode16_tok_per_s;
      console.log(`  ratio ours/torch: train ${train.toFixed(2)}× (target ≥ 1.2×: ${train >= 1.2 ? 'MET' : 'NOT MET'}), ` +
        `decode-1 ${dec1.toFixed(2)}× (target ≥ 1.0×: ${dec1 >= 1 ? 'MET' : 'NOT MET'}), decode-16 ${dec16.toFixed(2)}×`);
      console.log(`  torch ${t.torch}, best of torch thread counts 1 and 2 (train ${t.threads.train}T, decode ${t.threads.decode1}T / ${t.threads.decode16}T), initial loss ${t.loss_per_token.toFixed(3)} per token (ln V = ${Math.log(c.config.vocabSize).toFixed(3)}); load now ${loadavg()[0].toFixed(2)}`);
    }
  }
  console.log(`\npeak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; total bench time ${((performance.now() - start) / 1000).toFixed(0)} s`);
}

main();
