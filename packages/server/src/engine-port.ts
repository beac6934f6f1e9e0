/**
 * The part of the engine the server uses: the methods of `EngineHost` from @tinker-ts/engine,
 * each a Promise executed in the engine worker. Routes depend on this interface rather than
 * the class so queue and routing tests can run without loading model weights.
 */
import type { AdamParams, Datum, ForwardBackwardOutput, SampleResponse, SamplingParams } from '@tinker-ts/protocol';

export interface EngineModelInfo {
  model_name: string;
  max_context_length: number;
  family: 'llama' | 'qwen3';
  stand_in: boolean;
}

export interface EngineLoraSettings {
  rank: number;
  seed?: number;
  train_mlp: boolean;
  train_attn: boolean;
  train_unembed: boolean;
}

export interface EngineStateInfo {
  base_model: string;
  lora_rank: number;
  train_mlp: boolean;
  train_attn: boolean;
  train_unembed: boolean;
  has_optimizer: boolean;
}

export interface EngineSampleSource {
  baseModel: string;
  adapterId?: string;
  samplerDir?: string;
}

export interface EngineSampleRequest {
  prompt: number[];
  num_samples: number;
  sampling_params: SamplingParams;
  prompt_logprobs: boolean;
  topk_prompt_logprobs: number;
  topk_sample_logprobs: number;
}

export interface EnginePort {
  listModels(): Promise<EngineModelInfo[]>;
  hasModel(name: string): Promise<boolean>;
  createAdapter(adapterId: string, baseModel: string, lora: EngineLoraSettings): Promise<void>;
  dropAdapter(adapterId: string): Promise<void>;
  forwardBackward(
    adapterId: string,
    data: Datum[],
    lossFn: string,
    lossFnConfig: Record<string, number> | null,
    forwardOnly: boolean,
  ): Promise<ForwardBackwardOutput>;
  optimStep(adapterId: string, adam: AdamParams): Promise<{ metrics: Record<string, number> }>;
  saveState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void>;
  loadState(adapterId: string, dir: string, withOptimizer: boolean): Promise<void>;
  readStateInfo(dir: string): Promise<EngineStateInfo>;
  saveSamplerWeights(adapterId: string, dir: string): Promise<void>;
  sample(source: EngineSampleSource, req: EngineSampleRequest): Promise<SampleResponse>;
  /** Calls waiting in the worker. */
  readonly queueLength: number;
  close(): Promise<void>;
}
