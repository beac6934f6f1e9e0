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
export { GptOssRenderer } from './renderers/gpt-oss.js';
export type { GptOssRendererOptions, ReasoningEffort } from './renderers/gpt-oss.js';
export { DeepSeekV3Renderer } from './renderers/deepseek-v3.js';
export { DeepSeekV31Renderer } from './renderers/deepseek-v3.1.js';
export type { DeepSeekV31RendererOptions } from './renderers/deepseek-v3.1.js';
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

// Recipes
export { shuffled, batchAt } from './recipes/shuffle.js';
export { trainSupervised, supervisedDatum, meanNll } from './recipes/supervised.js';
export type { SupervisedConfig, SupervisedResult } from './recipes/supervised.js';
export { trainRl } from './recipes/rl.js';
export type { RlConfig, RlResult } from './recipes/rl.js';
export type { Env, EnvGroupBuilder, RLDataset, Observation, Action, StopCondition, StepResult, Transition, Trajectory } from './recipes/rl-types.js';
export { doGroupRollout, centeredAdvantages, trajectoryToData } from './recipes/rl-rollouts.js';
export type { TrajectoryGroup, RolloutSampling, PolicyGradientDatum } from './recipes/rl-rollouts.js';
export { PromptAnswerEnv, promptAnswerDataset, prefixMatchReward } from './recipes/prompt-answer-env.js';
export type { RewardFn, PromptAnswerDatasetOptions } from './recipes/prompt-answer-env.js';
export { trainDpo } from './recipes/dpo.js';
export type { DpoConfig, DpoResult } from './recipes/dpo.js';
export { trainOnPolicyDistillation } from './recipes/on-policy-distillation.js';
export type { OnPolicyDistillationConfig, OnPolicyDistillationResult } from './recipes/on-policy-distillation.js';
export { trainPromptDistillation, promptDistillationDataFile } from './recipes/prompt-distillation.js';
export type { PromptDistillationConfig, PromptDistillationResult } from './recipes/prompt-distillation.js';
export { readConversations, readPreferencePairs, readProblems, readPrompts, promptsOf } from './recipes/jsonl-data.js';
export type { PreferencePair, Problem } from './recipes/jsonl-data.js';
export { readCheckpoints, lastResumableCheckpoint, saveCheckpoint, checkpointLogFile, checkpointName } from './recipes/checkpoint-log.js';
export type { CheckpointRecord, CheckpointKind } from './recipes/checkpoint-log.js';
export { MetricsLog, readMetrics, metricsLogFile } from './recipes/metrics-log.js';
export type { StepMetrics } from './recipes/metrics-log.js';
export { runStepLoop } from './recipes/step-loop.js';
export type { StepLoopOptions, StepLoopResult, StepOutcome, SubmittedStep } from './recipes/step-loop.js';
export { openTrainingRun } from './recipes/training-run.js';
export type { RecipeRunConfig, TrainingRun } from './recipes/training-run.js';
