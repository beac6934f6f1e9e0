// @tinker-ts/cookbook: renderers, hyperparameters, RL diagnostics, cost accounting and recipes.

// Renderers
export { Renderer, pythonJson } from './renderers/renderer.js';
export type { Segment, RenderOptions, SupervisedExample, ParsedResponse } from './renderers/renderer.js';
export type { Message, Role, ToolCall, ToolSpec } from './renderers/message.js';
export { TRAIN_ON_WHAT, isTrainedMessage } from './renderers/train-on-what.js';
export type { TrainOnWhat } from './renderers/train-on-what.js';
export { Qwen3Renderer } from './renderers/qwen3.js';
export type { Qwen3RendererOptions } from './renderers/qwen3.js';
export { Llama3Renderer } from './renderers/llama3.js';
export { RoleColonRenderer } from './renderers/role-colon.js';
export { getRenderer, recommendedRendererName, RENDERER_NAMES } from './renderers/registry.js';
export type { RendererName } from './renderers/registry.js';

// Hyperparameters
export { getLr, loraParamCount, transformerWeightShapes, LORA_LEARNING_RATES, LORA_OVER_FULL_FINETUNE_LR } from './hyperparams.js';
export type { GetLrOptions, LoraParamCount, LoraParamCountOptions, WeightShapes, DenseTransformerConfig } from './hyperparams.js';

// RL diagnostics, token and cost accounting
export { sampleTrainMetrics, logprobGapWarning, DEFAULT_LOGPROB_GAP_THRESHOLD } from './rl-metrics.js';
export type { SampledTokenLogprobs, SampleTrainMetrics, SampleTrainMetricsOptions } from './rl-metrics.js';
export { CostMeter } from './cost-meter.js';
export type { StepTokens } from './cost-meter.js';
export { HOSTED_PRICES, ZERO_PRICES, isHostedTinker, pricesFor } from './prices.js';
export type { TokenPrices } from './prices.js';
