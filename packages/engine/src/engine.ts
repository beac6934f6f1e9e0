/**
 * The Engine: everything the server asks of the model, as synchronous calls on wire-shaped
 * inputs. It owns the model registry (base models, loaded lazily and shared), the trainable
 * adapters by id, and the kernels. It runs inside the engine process (see engine-host.ts), so
 * long calls never block the server's event loop.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError, checkSamplingParams, type AdamParams, type Datum, type ForwardBackwardOutput, type SampleResponse, type SamplingParams } from '@tinker-ts/protocol';
import { float32Tensor, int64Tensor, promptTargetLogprobs, readPromptTargets, type PromptTargets, type TensorData } from '@tinker-ts/protocol';
import { DEFAULT_ADAM_PARAMS } from './adamw.js';
import { DEFAULT_DIMUON_PARAMS, dimuonStep, type DimuonParams } from './dimuon.js';
import { checkOptimizerKind, optimizerName, optimizerOf, resetOptimizerState } from './optimizer-state.js';
import { loadTrainingState, readTrainingStateInfo, saveTrainingState, STATE_JSON_FILE } from './checkpoint.js';
import { EngineUserError } from './errors.js';
import { createAdapterState } from './init.js';
import type { Kernels } from './kernels.js';
import type { LossProgram } from './loss-graph.js';
import { zerosLike } from './lora.js';
import type { AdapterState, LoraParams, LoraSettings, OptimizerKind } from './model-types.js';
import { ModelRegistry, type SupportedModelInfo } from './model-registry.js';
import { nativeKernels } from './native-kernels.js';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, readPeftAdapter, writePeftAdapter } from './peft.js';
import { referenceKernels } from './reference-kernels.js';
import { runSampling } from './sampler.js';
import { SamplerCache, type SamplerCacheInfo } from './sampler-cache.js';
import { runForwardBackward, runOptimStep } from './training.js';
import { baseWeightBytes, weightDtypeOf, type WeightDtype } from './weight-dtype.js';

export { EngineUserError } from './errors.js';
export type { SupportedModelInfo } from './model-registry.js';

export interface EngineOptions {
  /** Extra models: name → local HF model directory. */
  models?: Record<string, string>;
  /**
   * How each model's frozen base weights are stored: name → "bf16" or "f32" (default: the
   * checkpoint's dtype; f32 for stand-ins). LoRA weights, gradients and optimizer state are f32.
   */
  dtypes?: Record<string, string>;
  /** 'native' (default): the OpenBLAS addon; 'reference': plain TypeScript (slow, for checking). */
  kernels?: 'native' | 'reference';
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Memory for sampler weights kept loaded between sample calls (bytes; default 256 MiB). */
  samplerCacheBytes?: number;
}

/** Which parts of the model a LoRA adapter trains (wire field names). */
export interface LoraTargets {
  train_mlp: boolean;
  train_attn: boolean;
  train_unembed: boolean;
}

export interface LoraConfigInput extends LoraTargets {
  rank: number;
  seed?: number;
}

/** An adapter as live adapters and saved states both describe it. */
export interface AdapterDescription extends LoraTargets {
  base_model: string;
  lora_rank: number;
}

export interface AdapterInfo extends AdapterDescription {
  step: number;
  optimizer: OptimizerKind;
}

export interface StateInfo extends AdapterDescription {
  has_optimizer: boolean;
}

/**
 * An optim_step's parameters: Dimuon's, tagged `type: 'dimuon'`, or AdamW's (untyped, or
 * `type: 'adamw'`); omitted fields take their defaults.
 */
export type OptimStepInput = (Partial<AdamParams> & { type?: 'adamw' }) | (Partial<DimuonParams> & { type: 'dimuon' });

/** What the engine holds in memory beyond the base models. */
export interface BaseWeightsInfo {
  dtype: WeightDtype;
  /** Bytes of every base weight tensor (the engine's own accounting, not the process's RSS). */
  bytes: number;
}

export interface EngineMemoryInfo {
  adapters: number;
  samplerCache: SamplerCacheInfo;
}

function describeAdapter(baseModel: string, s: LoraSettings): AdapterDescription {
  return { base_model: baseModel, lora_rank: s.rank, train_mlp: s.trainMlp, train_attn: s.trainAttn, train_unembed: s.trainUnembed };
}

export interface SampleSource {
  baseModel: string;
  /** Sample with a live adapter's current weights. */
  adapterId?: string;
  /** Sample with a PEFT adapter directory (as written by saveSamplerWeights). */
  samplerDir?: string;
}

export interface SampleInput {
  prompt: number[];
  num_samples: number;
  sampling_params: SamplingParams;
  prompt_logprobs: boolean;
  topk_prompt_logprobs: number;
  /** For each sampled token, its k most likely alternatives with their logprobs (0 or absent = off). */
  topk_sample_logprobs?: number;
  /** Token ids to score at prompt positions: int64 [len(prompt) - 1, K], -1 = skip, dense or CSR. */
  target_prompt_logprobs?: TensorData | null;
  /** k draws per prompt position after the first (0 or absent = off). */
  prompt_alt_tokens_k?: number;
  /** Prompt logprobs (plain and top-k) only at the last n positions (null or absent = all). */
  prompt_logprobs_last_n?: number | null;
}

/**
 * LoRA alpha used for every adapter, as on the hosted service (Thinking Machines' "LoRA Without
 * Regret" setup). PEFT scales B·A by alpha/rank, so with a fixed alpha the learning rate that
 * works for one rank stays close to right for another.
 */
export const LORA_ALPHA = 32;

interface Adapter {
  baseModel: string;
  state: AdapterState;
}

export class Engine {
  readonly kernels: Kernels;
  private readonly registry: ModelRegistry;
  private readonly adapters = new Map<string, Adapter>();
  /** PEFT adapters loaded for sampling, by directory (reloaded when the file changes). */
  private readonly samplerCache: SamplerCache;

  constructor(opts: EngineOptions = {}) {
    this.kernels = opts.kernels === 'reference' ? referenceKernels : nativeKernels;
    this.registry = new ModelRegistry({ models: opts.models, dtypes: opts.dtypes, log: opts.log });
    this.samplerCache = new SamplerCache(opts.samplerCacheBytes);
  }

  listModels(): SupportedModelInfo[] {
    return this.registry.list();
  }

  hasModel(name: string): boolean {
    return this.registry.has(name);
  }

  /** A new adapter; `optimizer` is fixed for its life (default AdamW). */
  createAdapter(adapterId: string, baseModel: string, lora: LoraConfigInput, optimizer: OptimizerKind = 'adamw'): void {
    if (this.adapters.has(adapterId)) throw new EngineUserError(`adapter ${adapterId} already exists`);
    const kind = checkOptimizerKind(optimizer);
    const model = this.registry.load(baseModel);
    if (!Number.isInteger(lora.rank) || lora.rank < 1) throw new EngineUserError(`lora rank must be a positive integer, got ${lora.rank}`);
    // Without a seed the initialisation is random, as on the hosted service.
    const settings: LoraSettings = {
      rank: lora.rank, alpha: LORA_ALPHA, seed: lora.seed ?? randomInt(0, 2 ** 31),
      trainAttn: lora.train_attn, trainMlp: lora.train_mlp, trainUnembed: lora.train_unembed,
    };
    const state = createAdapterState(model.config, settings);
    if (kind !== 'adamw') {
      state.optimizer = kind;
      resetOptimizerState(state);
    }
    this.adapters.set(adapterId, { baseModel, state });
  }

  private adapter(adapterId: string): Adapter {
    const a = this.adapters.get(adapterId);
    if (!a) throw new EngineUserError(`unknown model id ${adapterId}`);
    return a;
  }

  adapterInfo(adapterId: string): AdapterInfo {
    const { baseModel, state } = this.adapter(adapterId);
    return { ...describeAdapter(baseModel, state.settings), step: state.step, optimizer: optimizerOf(state) };
  }

  dropAdapter(adapterId: string): void {
    this.adapter(adapterId);
    this.adapters.delete(adapterId);
  }

  forwardBackward(adapterId: string, data: Datum[], lossFn: string, lossFnConfig: Record<string, number> | null, forwardOnly: boolean,
    customLoss: LossProgram | null = null): ForwardBackwardOutput {
    const { baseModel, state } = this.adapter(adapterId);
    const limit = this.registry.maxContextLength(baseModel);
    data?.forEach?.((d, i) => {
      const n = (d?.model_input?.chunks ?? []).reduce((sum, c) => sum + (c.type === 'encoded_text' && Array.isArray(c.tokens) ? c.tokens.length : 0), 0);
      if (n > limit) throw new EngineUserError(`datum ${i} has ${n} tokens but ${baseModel} supports at most ${limit}`);
    });
    return runForwardBackward(this.kernels, this.registry.load(baseModel), state, data, lossFn, lossFnConfig, forwardOnly, customLoss);
  }

  /** One step of the adapter's optimizer; parameters of the other family are refused. */
  optimStep(adapterId: string, params: OptimStepInput): { metrics: Record<string, number> } {
    const { state } = this.adapter(adapterId);
    const given: OptimizerKind = params?.type === 'dimuon' ? 'dimuon' : 'adamw';
    const kind = optimizerOf(state);
    if (given !== kind) {
      throw new EngineUserError(`model ${adapterId} was created with the ${optimizerName(kind)} optimizer; ` +
        `it cannot take a step with ${optimizerName(given)} parameters`);
    }
    if (kind === 'dimuon') {
      return { metrics: dimuonStep(this.kernels, state, { ...DEFAULT_DIMUON_PARAMS, ...stripNullish(params) } as DimuonParams) };
    }
    const { type: _type, ...adam } = (params ?? {}) as Partial<AdamParams> & { type?: string };
    return runOptimStep(this.kernels, state, { ...DEFAULT_ADAM_PARAMS, ...stripNullish(adam) });
  }

  saveState(adapterId: string, dir: string, withOptimizer: boolean): void {
    const { baseModel, state } = this.adapter(adapterId);
    saveTrainingState(dir, baseModel, state, withOptimizer);
  }

  /**
   * Loads a training state into an existing adapter. A PEFT adapter directory is accepted too
   * (weights only), so exported sampler weights can seed further training.
   */
  loadState(adapterId: string, dir: string, withOptimizer: boolean): void {
    const { baseModel, state } = this.adapter(adapterId);
    if (existsSync(join(dir, STATE_JSON_FILE))) {
      loadTrainingState(dir, baseModel, state, withOptimizer);
      return;
    }
    if (!existsSync(join(dir, PEFT_CONFIG_FILE))) throw new EngineUserError(`no checkpoint at ${dir}`);
    if (withOptimizer) throw new EngineUserError(`${dir} holds sampler weights only; there is no optimizer state to load`);
    const peft = readPeftAdapter(dir, this.registry.config(baseModel));
    if (peft.baseModel && peft.baseModel !== baseModel) throw new EngineUserError(`adapter at ${dir} is for base model ${peft.baseModel}, not ${baseModel}`);
    const s = state.settings;
    const p = peft.settings;
    if (p.rank !== s.rank || p.trainAttn !== s.trainAttn || p.trainMlp !== s.trainMlp || p.trainUnembed !== s.trainUnembed) {
      throw new EngineUserError(`adapter at ${dir} has rank ${p.rank} (attn=${p.trainAttn}, mlp=${p.trainMlp}, unembed=${p.trainUnembed}); ` +
        `this model has rank ${s.rank} (attn=${s.trainAttn}, mlp=${s.trainMlp}, unembed=${s.trainUnembed})`);
    }
    state.params = peft.params;
    state.settings = { ...s, alpha: p.alpha };
    state.grads = zerosLike(peft.params);
    resetOptimizerState(state);
  }

  readStateInfo(dir: string): StateInfo {
    if (!existsSync(join(dir, STATE_JSON_FILE)) && existsSync(join(dir, PEFT_CONFIG_FILE))) {
      const { baseModel, settings } = this.readPeftForAnyModel(dir);
      return { ...describeAdapter(baseModel, settings), has_optimizer: false };
    }
    const info = readTrainingStateInfo(dir);
    return { ...describeAdapter(info.baseModel, info.settings), has_optimizer: info.hasOptimizer };
  }

  private readPeftForAnyModel(dir: string) {
    const config = JSON.parse(readFileSafe(join(dir, PEFT_CONFIG_FILE))) as { base_model_name_or_path?: string };
    const base = config.base_model_name_or_path ?? '';
    if (!this.registry.has(base)) throw new EngineUserError(`adapter at ${dir} is for base model "${base}", which this engine does not serve`);
    return readPeftAdapter(dir, this.registry.config(base));
  }

  saveSamplerWeights(adapterId: string, dir: string): void {
    const { baseModel, state } = this.adapter(adapterId);
    writePeftAdapter(dir, { baseModel, settings: state.settings, params: state.params }, this.registry.config(baseModel));
  }

  sample(source: SampleSource, req: SampleInput): SampleResponse {
    const baseModel = source.baseModel;
    const model = this.registry.load(baseModel);
    let adapter: { params: LoraParams; settings: LoraSettings } | null = null;
    if (source.adapterId !== undefined) {
      const a = this.adapter(source.adapterId);
      if (a.baseModel !== baseModel) throw new EngineUserError(`model ${source.adapterId} is trained on ${a.baseModel}, not ${baseModel}`);
      adapter = a.state;
    } else if (source.samplerDir !== undefined) {
      adapter = this.samplerAdapter(source.samplerDir, baseModel);
    }
    let params;
    try {
      params = checkSamplingParams(req.sampling_params);
    } catch (e) {
      if (e instanceof ValidationError) throw new EngineUserError(e.message);
      throw e;
    }
    const stopStrings = params.stop.filter((s): s is string => typeof s === 'string');
    const stopTokenIds = params.stop.filter((s): s is number => typeof s === 'number');
    const tokenizer = stopStrings.length > 0 ? this.registry.tokenizer(baseModel) : null;
    let targets: PromptTargets | null = null;
    try {
      if (req.target_prompt_logprobs != null) targets = readPromptTargets(req.target_prompt_logprobs, req.prompt.length);
    } catch (e) {
      if (e instanceof ValidationError) throw new EngineUserError(e.message);
      throw e;
    }
    const altK = req.prompt_alt_tokens_k ?? 0;
    const result = runSampling({
      kernels: this.kernels, model, adapter,
      maxContextLength: this.registry.maxContextLength(baseModel),
      decode: tokenizer ? (ids) => tokenizer.decode(ids) : null,
    }, {
      prompt: req.prompt,
      numSamples: req.num_samples,
      params: {
        maxTokens: params.max_tokens, temperature: params.temperature, topK: params.top_k, topP: params.top_p,
        seed: params.seed, stopTokenIds, stopStrings,
      },
      promptLogprobs: req.prompt_logprobs,
      topkPromptLogprobs: req.topk_prompt_logprobs,
      topkSampleLogprobs: req.topk_sample_logprobs ?? 0,
      promptLogprobsLastN: req.prompt_logprobs_last_n ?? null,
      promptTargets: targets,
      promptAltTokensK: altK,
    });
    const response: SampleResponse = {
      sequences: result.sequences.map((s) => ({
        tokens: s.tokens,
        logprobs: s.logprobs,
        stop_reason: s.stopReason,
        ...(s.topkLogprobs ? { topk_logprobs: s.topkLogprobs } : {}),
      })),
      type: 'sample',
    };
    if (result.promptLogprobs) response.prompt_logprobs = result.promptLogprobs;
    if (result.topkPromptLogprobs) response.topk_prompt_logprobs = result.topkPromptLogprobs;
    if (targets && result.targetPromptLogprobs) response.target_prompt_logprobs = promptTargetLogprobs(targets, result.targetPromptLogprobs);
    if (result.promptAltTokens) {
      const shape = [req.prompt.length - 1, altK];
      response.prompt_alt_tokens = {
        tokens: int64Tensor(result.promptAltTokens.tokens, shape),
        logprobs: float32Tensor(result.promptAltTokens.logprobs, shape),
      };
    }
    return response;
  }

  private samplerAdapter(dir: string, baseModel: string): { params: LoraParams; settings: LoraSettings } {
    const weights = join(dir, PEFT_WEIGHTS_FILE);
    let mtimeMs: number;
    try {
      mtimeMs = statSync(weights).mtimeMs;
    } catch {
      throw new EngineUserError(`no sampler weights at ${dir}`);
    }
    const hit = this.samplerCache.get(dir, mtimeMs, baseModel);
    if (hit) return hit;
    const peft = readPeftAdapter(dir, this.registry.config(baseModel));
    if (peft.baseModel && peft.baseModel !== baseModel) throw new EngineUserError(`sampler weights at ${dir} are for ${peft.baseModel}, not ${baseModel}`);
    const entry = { mtimeMs, baseModel, params: peft.params, settings: peft.settings };
    this.samplerCache.put(dir, entry);
    return entry;
  }

  /** Forgets the sampler weights loaded from these directories (they are being deleted); returns how many were loaded. */
  releaseSamplerWeights(dirs: string[]): number {
    return dirs.filter((dir) => this.samplerCache.release(dir)).length;
  }

  /** How a base model's frozen weights are stored and the bytes they take (loads the model). */
  baseWeights(baseModel: string): BaseWeightsInfo {
    const model = this.registry.load(baseModel);
    return { dtype: weightDtypeOf(model.weights), bytes: baseWeightBytes(model.weights) };
  }

  memoryInfo(): EngineMemoryInfo {
    return { adapters: this.adapters.size, samplerCache: this.samplerCache.info() };
  }

  tokenizerFiles(baseModel: string): { tokenizerJson: string; tokenizerConfigJson: string | null } {
    return this.registry.tokenizerFiles(baseModel);
  }
}

function stripNullish<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new EngineUserError(`cannot read ${path}: ${(e as Error).message}`);
  }
}
