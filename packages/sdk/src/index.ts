// @tinker-ts/sdk: the public API. Start with `new ServiceClient()`.

// Clients
export { ServiceClient } from './service-client.js';
export type {
  ServiceClientOptions,
  LoraTrainingClientOptions,
  TrainingClientFromStateOptions,
  SamplingClientOptions,
  CopyWeightsOptions,
} from './service-client.js';
export { TrainingClient, CustomLoss, type CustomLossRef } from './training-client.js';
export type { SaveStateOptions, SaveWeightsForSamplerOptions } from './training-client.js';
export { SamplingClient } from './sampling-client.js';
export type { SampleOptions } from './sampling-client.js';
export { RestClient, parseCheckpointPath } from './rest-client.js';
export type { AccessScope, CheckpointRef, ListOptions, ListSessionsOptions, ListTrainingRunsOptions } from './rest-client.js';
export { Page } from './pagination.js';
export type { PageFuture, PageRequest } from './pagination.js';

// Futures and options
export { APIFuture } from './future.js';
export type { CallOptions, ClientOptions, Logger, QueueStateObserver, RuntimeTiming } from './runtime/runtime.js';

// Errors
export {
  TinkerError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIUserAbortError,
  RequestFailedError,
  TimeoutError,
  ValidationError,
  ProtocolError,
} from './errors.js';
export type { RequestErrorCategory } from './errors.js';

// Data
export { ModelInput, textChunk, imageChunk, imageAssetPointerChunk } from './model-input.js';
export type { EncodedTextChunk, ImageChunk, ImageAssetPointerChunk, ModelInputChunk } from './model-input.js';
export { TensorData } from './tensor-data.js';
export type { NumericArray, SparseCsr, TensorDtype, TensorDataOptions } from './tensor-data.js';
export { Datum, LOSS_INPUT_DTYPES } from './datum.js';
export type { DatumInit, DatumLike, LossFnInputValue } from './datum.js';
export { DEFAULT_ADAM_PARAMS } from './types.js';
export { ADAM_OPTIMIZER, DIMUON_OPTIMIZER } from './optimizer.js';
export type { DimuonParams, OptimParams, OptimizerConfig, OptimizerKind } from './optimizer.js';
export type {
  AdamParams,
  Checkpoint,
  CheckpointArchiveUrlResponse,
  CheckpointType,
  Cursor,
  ForwardBackwardOutput,
  GetInfoResponse,
  GetSamplerResponse,
  GetServerCapabilitiesResponse,
  GetSessionResponse,
  SessionTrace,
  TrainingMetricsRecord,
  TrainingRunMetrics,
  ImageFormat,
  LoadWeightsResponse,
  LossFnConfig,
  LossFnOutput,
  LossFnType,
  ModelData,
  OptimStepResponse,
  SampleResponse,
  SampledSequence,
  SamplingParams,
  SaveWeightsForSamplerResponse,
  SaveWeightsResponse,
  StopReason,
  SupportedModel,
  TrainingRun,
  UnloadModelResponse,
  WeightsInfoResponse,
} from './types.js';

// Custom losses
export { Var, track, differentiable, dpoLoss, klPenalty, sequenceLogprob, evaluateCustomLoss } from './custom-loss.js';
export type { CustomLossFn, CustomLossOutput, DpoPair, LossAndGradients } from './custom-loss.js';
export { Sym, SymBatch, traceCustomLoss } from './custom-loss-graph.js';
export type { CustomLossDefinition, CustomLossSpec, SymOperand, TracedLoss } from './custom-loss-graph.js';

// Tokenizers
export { getTokenizer, tokenizerFamily } from './tokenizer.js';
export type { Tokenizer, TokenizerOptions, ChatMessage, ChatTemplateOptions, EncodeOptions, DecodeOptions } from './tokenizer.js';

// Progress of long operations (a bar on a terminal, plain lines in logs)
export { Progress } from './progress.js';
export type { ProgressOptions, ProgressStream } from './progress.js';
export type {
  CheckpointSearchCursor,
  CheckpointSearchPage,
  CheckpointStorageUsage,
  CheckpointStorageUsageItem,
  SearchCheckpointsOptions,
} from './checkpoint-search.js';
