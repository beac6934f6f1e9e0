/**
 * @tinker-ts/engine: a CPU engine for LoRA training and sampling of Llama / Qwen3 decoders.
 * Servers use `EngineHost` (the Engine in a child process); tools and tests may use `Engine`
 * directly, or the building blocks below.
 */
export { Engine, LORA_ALPHA, type EngineOptions, type LoraConfigInput, type AdapterInfo, type StateInfo, type SampleSource, type SampleInput, type EngineMemoryInfo, type OptimStepInput, type BaseWeightsInfo } from './engine.js';
export { dimuonStep, dimuonDirection, newtonSchulz, preconditionMomentum, rankLrCorrection, DEFAULT_DIMUON_PARAMS, type DimuonParams } from './dimuon.js';
export { SamplerCache, DEFAULT_SAMPLER_CACHE_BYTES, type SamplerWeights, type SamplerCacheInfo } from './sampler-cache.js';
export { EngineHost, EngineWorkerError, type EngineExit, type EngineHostOptions, type EngineMethod } from './engine-host.js';
export { EngineError, EngineUserError } from './errors.js';
export { ModelRegistry, type SupportedModelInfo, type ModelRegistryOptions } from './model-registry.js';
export { RETIRED_ALIASES, STAND_INS, describeStandIn, type StandInSpec } from './stand-ins.js';
export { Tokenizer, type TokenizerFiles } from './tokenizer.js';
export { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
export {
  SafetensorsError, parseSafetensors, readSafetensorsFile, serializeSafetensors, tensorAsFloat32, tensorAsBf16, writeSafetensorsFile,
  type SafetensorsFile, type NamedTensor, type TensorEntry, type SerializeOptions,
} from './safetensors.js';
export { modelConfigFromHf, modelConfigToHf, readHfConfig } from './hf-config.js';
export { readHfWeights, writeHfWeights, hfTensorsOf, checkpointWeightDtype } from './hf-weights.js';
export { saveTrainingState, loadTrainingState, readTrainingStateInfo, type TrainingStateInfo } from './checkpoint.js';
export { writePeftAdapter, readPeftAdapter, peftModuleName, type PeftAdapter } from './peft.js';
export { runSampling, type SampleJob, type SampleResult, type SamplerContext, type SamplerParams, type SampledSequence } from './sampler.js';
export { runForwardBackward, runOptimStep, CUSTOM_LOSS_FN } from './training.js';
export { evaluateLossProgram, LOSS_UNARY_FNS, LOSS_BINARY_FNS, type LossProgram, type LossStep, type LossUnaryFn, type LossBinaryFn, type LossProgramInputs, type LossProgramResult } from './loss-graph.js';
export { nativeKernels, openblasCoreName, nativeKernelLevel, measurePeakGflops, type KernelLevel } from './native-kernels.js';
export { nativeBf16GemmKernel, type Bf16GemmKernel } from './native-kernels.js';
export {
  baseWeightBytes, convertWeights, parseWeightDtype, toBf16, bf16ToFloat32, WEIGHT_DTYPES, type WeightDtype, type FrozenWeight, type Bf16Array,
} from './weight-dtype.js';
export { referenceKernels } from './reference-kernels.js';
export { randomModelWeights, createAdapterState } from './init.js';
export type { Kernels } from './kernels.js';
export type * from './model-types.js';
