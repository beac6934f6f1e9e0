// The entry point: one session with a Tinker server, from which training, sampling and REST
// clients are made. Every method returns an APIFuture: `await` it, or block with `.result()`.
import type * as wire from '@tinker-ts/protocol';
import { TinkerError, ValidationError } from './errors.js';
import { APIFuture } from './future.js';
import { RestClient } from './rest-client.js';
import { Runtime } from './runtime/runtime.js';
import type { CallOptions, ClientOptions } from './runtime/options.js';
import { SamplingClient } from './sampling-client.js';
import type { TokenizerOptions } from './tokenizer.js';
import type { ClientContext, SamplingClientOptions, SamplingSessionInit } from './client-context.js';
import { TrainingClient } from './training-client.js';
import { decodeSamplerHandle } from './sampler-handle.js';
import { ADAM_OPTIMIZER, checkOptimizer, type OptimizerConfig } from './optimizer.js';
import { capabilitiesFromWire, checkTinkerPath, protocolCheck, type GetServerCapabilitiesResponse } from './types.js';
import { deprecationNotice, parseModelId } from '@tinker-ts/protocol';

export type { SamplingClientOptions } from './client-context.js';

export interface ServiceClientOptions extends ClientOptions, TokenizerOptions {}

export interface LoraTrainingClientOptions {
  /** Base model to fine-tune, e.g. "Qwen/Qwen3-8B". */
  baseModel: string;
  /** LoRA rank; default 32. */
  rank?: number;
  /** Initialization seed; default random. */
  seed?: number;
  /** Default true. */
  trainMlp?: boolean;
  /** Default true. */
  trainAttn?: boolean;
  /** Default true. */
  trainUnembed?: boolean;
  userMetadata?: Record<string, string>;
  /**
   * The optimizer, fixed for the client's life: `{ type: 'adamw' }` (the default) or
   * `{ type: 'dimuon', version: 1 }`. optimStep then takes AdamParams or DimuonParams.
   */
  optimizer?: OptimizerConfig;
}

export interface TrainingClientFromStateOptions {
  /** Override of the checkpoint's base model (must be compatible with it). */
  baseModel?: string;
  userMetadata?: Record<string, string>;
  /**
   * The new client's optimizer, for createTrainingClientFromState (default AdamW). A resume with
   * the optimizer state keeps the checkpoint's optimizer instead.
   */
  optimizer?: OptimizerConfig;
}

export interface CopyWeightsOptions {
  /** The copy expires after this many seconds (a positive integer); default: kept until deleted. */
  ttlSeconds?: number;
  /** Grants read access to another user's checkpoint (see RestClient's access tokens). */
  weightsAccessToken?: string;
}

export class ServiceClient {
  private readonly runtime: Runtime;
  private readonly ctx: ClientContext;

  constructor(opts: ServiceClientOptions = {}) {
    this.runtime = Runtime.create(opts);
    let modelSeq = 0;
    let samplingSeq = 0;
    let customLossSeq = 0;
    const tokenizerOptions: TokenizerOptions = opts.tokenizerPath !== undefined ? { tokenizerPath: opts.tokenizerPath } : {};
    this.ctx = {
      runtime: this.runtime,
      tokenizerOptions,
      nextModelSeqId: () => modelSeq++,
      nextSamplingSessionSeqId: () => samplingSeq++,
      nextCustomLossSeqId: () => customLossSeq++,
      openSamplingSession: (source, callOpts) => this.openSamplingSession(source, callOpts),
    };
  }

  /** The models the server offers. */
  getServerCapabilities(opts?: CallOptions): APIFuture<GetServerCapabilitiesResponse> {
    return this.runtime
      .request<wire.GetServerCapabilitiesResponse>({ method: 'GET', path: 'get_server_capabilities' }, opts)
      .map(capabilitiesFromWire);
  }

  /** A new LoRA adapter on `baseModel`, ready to train. */
  createLoraTrainingClient(options: LoraTrainingClientOptions, opts?: CallOptions): APIFuture<TrainingClient> {
    const { baseModel, rank = 32, seed, trainMlp = true, trainAttn = true, trainUnembed = true, userMetadata } = options ?? ({} as LoraTrainingClientOptions);
    checkBaseModel(baseModel);
    const chosenOptimizer = options?.optimizer;
    const optimizer = checkOptimizer(chosenOptimizer);
    this.noteRetired(baseModel);
    if (!Number.isInteger(rank) || rank < 1) {
      throw new ValidationError(`rank: must be a positive integer, got ${JSON.stringify(rank)}`, { field: 'rank' });
    }
    if (seed !== undefined && (!Number.isInteger(seed) || seed < 0)) {
      throw new ValidationError(`seed: must be a non-negative integer, got ${JSON.stringify(seed)}`, { field: 'seed' });
    }
    if (!trainMlp && !trainAttn && !trainUnembed) {
      throw new ValidationError('At least one of trainMlp, trainAttn or trainUnembed must be true', { field: 'lora_config' });
    }
    const modelSeqId = this.ctx.nextModelSeqId();
    const loraConfig: wire.LoraConfig = { rank, train_mlp: trainMlp, train_attn: trainAttn, train_unembed: trainUnembed };
    if (seed !== undefined) loraConfig.seed = seed;
    return this.withSession((config, sessionId) => {
      const body: wire.CreateModelRequest = {
        session_id: sessionId,
        model_seq_id: modelSeqId,
        base_model: baseModel,
        user_metadata: userMetadata ?? null,
        lora_config: loraConfig,
        type: 'create_model',
      };
      // Sent only when chosen: the default keeps the body of SDKs from before the choice (AdamW).
      if (chosenOptimizer !== undefined) body.optimizer_config = optimizer;
      return this.runtime
        .submit<wire.CreateModelResponse>({ path: 'create_model', body, requestType: 'CreateModel', resultKind: 'json' }, opts)
        .map((res) => new TrainingClient(this.ctx, { modelId: res.model_id, modelSeqId, config, baseModel, optimizer }));
    });
  }

  /** A training client with the weights of a `tinker://.../weights/...` checkpoint (fresh optimizer). */
  createTrainingClientFromState(path: string, options: TrainingClientFromStateOptions = {}, opts?: CallOptions): APIFuture<TrainingClient> {
    return this.trainingClientFromState(path, false, options, opts);
  }

  /** Like createTrainingClientFromState, also restoring the optimizer state (Adam moments, Dimuon momentum) and keeping its optimizer. */
  createTrainingClientFromStateWithOptimizer(path: string, options: TrainingClientFromStateOptions = {}, opts?: CallOptions): APIFuture<TrainingClient> {
    return this.trainingClientFromState(path, true, options, opts);
  }

  /** A sampling client for saved sampler weights (`modelPath`) or a base model. */
  createSamplingClient(source: SamplingClientOptions, opts?: CallOptions): APIFuture<SamplingClient> {
    return this.openSamplingSession(source, opts).map((init) => new SamplingClient(this.ctx, init));
  }

  /**
   * A client of the sampling session a handle names (`SamplingClient.getSamplerHandle()`, made
   * in this or another process): it joins that session (join_sampling_session) with this
   * client's credentials and numbers its samples apart from the session's other clients.
   * The handle must come from the server this ServiceClient talks to.
   */
  samplingClientFromHandle(handle: string, opts?: CallOptions): APIFuture<SamplingClient> {
    const { samplingSessionId, baseURL } = decodeSamplerHandle(handle);
    return this.runtime.serverConfig().chain((config) => {
      const here = this.runtime.serverAddress;
      if (baseURL && here && !sameServer(baseURL, here)) {
        throw new ValidationError(
          `sampler handle: it names a sampling session of ${baseURL}, but this ServiceClient talks to ${here}; create the ServiceClient with baseURL: ${JSON.stringify(baseURL)}`,
          { field: 'handle' },
        );
      }
      const body: wire.JoinSamplingSessionRequest = { sampling_session_id: samplingSessionId, type: 'join_sampling_session' };
      return this.runtime
        .request<wire.JoinSamplingSessionResponse>({ method: 'POST', path: 'join_sampling_session', body }, opts)
        .map((res) => {
          if (!Number.isSafeInteger(res?.client_counter) || res.client_counter < 0) {
            throw new TinkerError(`join_sampling_session answered without a client_counter: ${JSON.stringify(res).slice(0, 200)}`);
          }
          return new SamplingClient(this.ctx, { samplingSessionId, config, clientCounter: res.client_counter });
        });
    });
  }

  private openSamplingSession(source: SamplingClientOptions, opts?: CallOptions): APIFuture<SamplingSessionInit> {
    const { modelPath, baseModel } = source ?? ({} as SamplingClientOptions);
    if ((modelPath === undefined) === (baseModel === undefined)) {
      throw new ValidationError('createSamplingClient: give exactly one of modelPath or baseModel', { field: 'model_path' });
    }
    if (modelPath !== undefined) checkTinkerPath(modelPath, 'model_path');
    else {
      checkBaseModel(baseModel!);
      this.noteRetired(baseModel!);
    }
    const seq = this.ctx.nextSamplingSessionSeqId();
    return this.withSession((config, sessionId) => {
      const body: wire.CreateSamplingSessionRequest = { session_id: sessionId, sampling_session_seq_id: seq, type: 'create_sampling_session' };
      if (modelPath !== undefined) body.model_path = modelPath;
      else body.base_model = baseModel!;
      return this.runtime
        .request<wire.CreateSamplingSessionResponse>({ method: 'POST', path: 'create_sampling_session', body }, opts)
        .map((res) => ({ samplingSessionId: res.sampling_session_id, config }));
    });
  }

  private readonly warnedRetired = new Set<string>();

  /** Warns once per model id that hosted Tinker retired (servers like this one may still serve it). */
  private noteRetired(baseModel: string): void {
    const notice = deprecationNotice(baseModel);
    if (notice === null || this.warnedRetired.has(baseModel)) return;
    this.warnedRetired.add(baseModel);
    this.runtime.warn(notice);
  }

  /** Queries and housekeeping of runs, checkpoints and sessions. */
  createRestClient(): RestClient {
    return new RestClient(this.runtime);
  }

  /**
   * Copies a checkpoint (weights or sampler weights, yours or one shared with you) into a new
   * training run of this session; resolves to the copy's `tinker://` path.
   */
  copyWeights(sourcePath: string, options: CopyWeightsOptions = {}, opts?: CallOptions): APIFuture<string> {
    checkTinkerPath(sourcePath, 'source_path');
    const { ttlSeconds, weightsAccessToken } = options ?? {};
    if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)) {
      throw new ValidationError(`ttl_seconds: must be a positive integer, got ${JSON.stringify(ttlSeconds)}`, { field: 'ttl_seconds' });
    }
    if (weightsAccessToken !== undefined && (typeof weightsAccessToken !== 'string' || weightsAccessToken.length === 0)) {
      throw new ValidationError('weights_access_token: must be a non-empty string', { field: 'weights_access_token' });
    }
    const modelSeqId = this.ctx.nextModelSeqId();
    return this.withSession((_config, sessionId) => {
      const body: wire.CopyWeightsRequest = { session_id: sessionId, model_seq_id: modelSeqId, source_path: sourcePath, ttl_seconds: ttlSeconds ?? null };
      if (weightsAccessToken !== undefined) body.weights_access_token = weightsAccessToken;
      return this.runtime.request<wire.CopyWeightsResponse>({ method: 'POST', path: 'copy_weights', body }, opts).map((res) => {
        if (typeof res?.tinker_path !== 'string') {
          throw new TinkerError(`copy_weights answered without a tinker_path: ${JSON.stringify(res).slice(0, 200)}`);
        }
        return res.tinker_path;
      });
    });
  }

  /**
   * Finishes the session on the server (best effort, a few seconds at most), stops heartbeats
   * and the network thread; pending calls fail. Never throws.
   */
  close(): Promise<void> {
    return this.runtime.close();
  }

  private trainingClientFromState(path: string, optimizer: boolean, options: TrainingClientFromStateOptions, opts?: CallOptions): APIFuture<TrainingClient> {
    checkTinkerPath(path, 'path');
    if (options.baseModel !== undefined) checkBaseModel(options.baseModel);
    if (optimizer && options.optimizer !== undefined) {
      throw new ValidationError('optimizer: a resume with the optimizer state keeps the checkpoint\'s optimizer; leave it out', { field: 'optimizer' });
    }
    if (options.optimizer !== undefined) checkOptimizer(options.optimizer);
    return this.runtime.serverConfig().chain((config) => {
      if (config.create_model_via_load_weights) return this.createViaLoadWeights(path, optimizer, options, opts);
      return new RestClient(this.runtime).getWeightsInfo(path, opts).chain((info) => {
        if (!info.isLora || info.loraRank === undefined) {
          throw new ValidationError(`${path} is not a LoRA checkpoint; only LoRA training state can be loaded`, { field: 'path' });
        }
        const lora: LoraTrainingClientOptions = {
          baseModel: options.baseModel ?? info.baseModel,
          rank: info.loraRank,
          trainMlp: info.trainMlp ?? true,
          trainAttn: info.trainAttn ?? true,
          trainUnembed: info.trainUnembed ?? true,
        };
        if (options.userMetadata) lora.userMetadata = options.userMetadata;
        const chosen = optimizer ? info.optimizerConfig : options.optimizer;
        if (chosen !== undefined) lora.optimizer = chosen;
        return this.createLoraTrainingClient(lora, opts).chain((tc) =>
          (optimizer ? tc.loadStateWithOptimizer(path, opts) : tc.loadState(path, opts)).map(() => tc),
        );
      });
    });
  }

  /** One load_weights that creates the model (servers with `create_model_via_load_weights`). */
  private createViaLoadWeights(path: string, optimizer: boolean, options: TrainingClientFromStateOptions, opts?: CallOptions): APIFuture<TrainingClient> {
    const modelSeqId = this.ctx.nextModelSeqId();
    // With the optimizer state the server keeps the checkpoint's optimizer. tinker-ts servers report
    // it in the result; a server that does not leaves the match of optimStep's parameters to itself.
    const chosen = optimizer ? null : options.optimizer !== undefined ? checkOptimizer(options.optimizer) : ADAM_OPTIMIZER;
    return this.withSession((config, sessionId) => {
      const body: wire.LoadWeightsRequest = { session_id: sessionId, model_seq_id: modelSeqId, path, optimizer, type: 'load_weights' };
      if (options.baseModel !== undefined) body.base_model = options.baseModel;
      if (options.userMetadata !== undefined) body.user_metadata = options.userMetadata;
      if (!optimizer && options.optimizer !== undefined) body.optimizer_config = chosen;
      return this.runtime
        .submit<wire.LoadWeightsResponse>({ path: 'load_weights', body, requestType: 'LoadWeights', resultKind: 'json' }, opts)
        .map((res) => new TrainingClient(this.ctx, {
          modelId: res.model_id ?? `${sessionId}:train:${modelSeqId}`,
          modelSeqId,
          config,
          baseModel: options.baseModel,
          optimizer: res.optimizer_config ? checkOptimizer(res.optimizer_config, 'optimizer_config') : chosen,
        }));
    });
  }

  /** Runs `fn` once the server's config and the session id are known. */
  private withSession<T>(fn: (config: wire.ClientConfigResponse, sessionId: string) => APIFuture<T>): APIFuture<T> {
    return this.runtime.serverConfig().chain((config) => this.runtime.sessionId().chain((sessionId) => fn(config, sessionId)));
  }
}

/** Two spellings of one server address (trailing slashes, default ports, host case). */
function sameServer(a: string, b: string): boolean {
  try {
    const ua = new URL(a);
    const ub = new URL(b);
    return ua.origin === ub.origin && ua.pathname.replace(/\/+$/, '') === ub.pathname.replace(/\/+$/, '');
  } catch {
    return a === b;
  }
}

function checkBaseModel(baseModel: unknown): asserts baseModel is string {
  if (typeof baseModel !== 'string' || baseModel.length === 0) {
    throw new ValidationError(`base_model: expected a model name such as "Qwen/Qwen3-8B", got ${JSON.stringify(baseModel)}`, { field: 'base_model' });
  }
  // The id's suffixes (`:peft:<ctx>`, `:sampling-nvfp4`) are checked before anything is sent.
  protocolCheck(() => parseModelId(baseModel, 'base_model'));
}
