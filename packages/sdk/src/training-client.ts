// A LoRA model being trained. Each call is one server request (or a few, for chunked batches)
// numbered with a strictly increasing seq_id taken when the method is called, so the server
// applies them in call order even though they travel concurrently.
import * as protocol from '@tinker-ts/protocol';
import type * as wire from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';
import { APIFuture } from './future.js';
import { chunkData, combineChunkOutputs, submissionOrder, type DatumChunk } from './chunking.js';
import { evaluateCustomLoss, type CustomLossFn } from './custom-loss.js';
import type { CustomLossDefinition } from './custom-loss-graph.js';
import { Datum, toDatum, type DatumLike } from './datum.js';
import { chunkTurns, type ModelTurn } from './runtime/model-turns.js';
import type { CallOptions } from './runtime/options.js';
import { SamplingClient } from './sampling-client.js';
import type { ClientContext } from './client-context.js';
import { TensorData } from './tensor-data.js';
import { getTokenizer, tokenizerFamily, type Tokenizer } from './tokenizer.js';
import { ADAM_OPTIMIZER, optimStepFields, type OptimParams, type OptimizerConfig } from './optimizer.js';
import { environment } from '#environment';
import {
  checkTinkerPath,
  forwardBackwardOutputFromWire,
  getInfoFromWire,
  protocolCheck,
  type ForwardBackwardOutput,
  type GetInfoResponse,
  type LoadWeightsResponse,
  type LossFnConfig,
  type LossFnType,
  type OptimStepResponse,
  type SaveWeightsForSamplerResponse,
  type SaveWeightsResponse,
  type UnloadModelResponse,
} from './types.js';

export interface TrainingClientInit {
  modelId: string;
  modelSeqId: number;
  /** The server's client/config, for chunk limits. */
  config: wire.ClientConfigResponse;
  /** Known when the client was made for a named base model. */
  baseModel?: string | undefined;
  /** The optimizer the model was created with (default AdamW); null = the checkpoint's, not reported. */
  optimizer?: OptimizerConfig | null | undefined;
}

export interface SaveStateOptions {
  /** The checkpoint expires after this many seconds; default never. */
  ttlSeconds?: number;
  userMetadata?: Record<string, string>;
  /** Replace an existing checkpoint of the same name. */
  overwrite?: boolean;
}

export interface SaveWeightsForSamplerOptions {
  ttlSeconds?: number;
  userMetadata?: Record<string, string>;
}

export class TrainingClient {
  readonly modelId: string;
  /** This client's number within its session. */
  readonly modelSeqId: number;
  /**
   * The optimizer chosen at creation, fixed for the model's life: optimStep takes its parameters.
   * null only for a client resumed with its optimizer state by a single load_weights (servers with
   * `create_model_via_load_weights`) from a server that does not report the checkpoint's
   * optimizer: its optimStep sends either family and the server refuses a mismatch.
   */
  readonly optimizer: OptimizerConfig | null;
  private readonly ctx: ClientContext;
  private readonly config: wire.ClientConfigResponse;
  private readonly baseModel: string | undefined;
  /** seq_id of the last request; the next one is this + 1. */
  private lastSeqId = 0;
  /** This client's requests, numbered in call order, reach the server in that order (model-turns.ts). */
  private readonly turnLane: string;
  private turnsTaken = 0;

  /** @internal Made by ServiceClient. */
  constructor(ctx: ClientContext, init: TrainingClientInit) {
    this.ctx = ctx;
    this.modelId = init.modelId;
    this.modelSeqId = init.modelSeqId;
    this.optimizer = init.optimizer === undefined ? ADAM_OPTIMIZER : init.optimizer;
    this.config = init.config;
    this.baseModel = init.baseModel;
    this.turnLane = `${init.modelId}#${++turnLanes}`;
  }

  /** Loss and per-token outputs without gradients (`lossFn` may name a custom loss, see createCustomLoss). */
  forward(data: readonly DatumLike[], lossFn: LossFnType | CustomLossRef, lossFnConfig?: LossFnConfig, opts?: CallOptions): APIFuture<ForwardBackwardOutput> {
    if (isCustomLossRef(lossFn)) return this.runCustomLoss(data, lossFn, lossFnConfig, true, opts);
    return this.runForwardBackward(data, lossFn, lossFnConfig, true, opts);
  }

  /**
   * Loss, per-token outputs, and gradients accumulated on the server for the next optimStep.
   * `lossFn` is a built-in loss, or a custom loss made by createCustomLoss (or `{ lossId }`).
   */
  forwardBackward(data: readonly DatumLike[], lossFn: LossFnType | CustomLossRef, lossFnConfig?: LossFnConfig, opts?: CallOptions): APIFuture<ForwardBackwardOutput> {
    if (isCustomLossRef(lossFn)) return this.runCustomLoss(data, lossFn, lossFnConfig, false, opts);
    return this.runForwardBackward(data, lossFn, lossFnConfig, false, opts);
  }

  /**
   * Registers a traced loss (traceCustomLoss) with the server. forwardBackward(data, loss) then
   * evaluates it in the training pass itself: one request and one forward pass per step, where
   * forwardBackwardCustom needs two.
   */
  createCustomLoss(definition: CustomLossDefinition, opts?: CallOptions): APIFuture<CustomLoss> {
    const seq = this.ctx.nextCustomLossSeqId();
    const draft: wire.CreateCustomLossRequest = {
      session_id: 'unknown',
      custom_loss_seq_id: seq,
      name: definition?.name,
      inputs: definition?.inputs,
      graph: definition?.graph,
      type: 'create_custom_loss',
    };
    protocolCheck(() => protocol.checkCreateCustomLoss(protocol.parse(protocol.createCustomLossRequestSchema, draft)));
    return this.ctx.runtime.sessionId().chain((sessionId) =>
      this.ctx.runtime
        .request<wire.CreateCustomLossResponse>({ method: 'POST', path: 'create_custom_loss', body: { ...draft, session_id: sessionId } }, opts)
        .map((res) => {
          if (!res?.loss_id) throw new ValidationError('create_custom_loss: the server returned no loss_id', { field: 'loss_id' });
          return new CustomLoss(res.loss_id, definition.name, definition.inputs, definition.datums);
        }),
    );
  }

  /**
   * forward_backward with a loss computed here on the target-token logprobs: a forward pass,
   * then `lossFn` and its gradient g = dLoss/dlogprobs, then cross_entropy with weights = -g,
   * whose gradient equals the custom loss's. The user's metrics join the result's.
   */
  forwardBackwardCustom(data: readonly DatumLike[], lossFn: CustomLossFn, opts?: CallOptions): APIFuture<ForwardBackwardOutput> {
    if (typeof lossFn !== 'function') {
      throw new ValidationError('loss_fn: forwardBackwardCustom needs a function (data, logprobs) => { loss, metrics?, grads? }', { field: 'loss_fn' });
    }
    const datums = toDatums(data);
    const forwardData = datums.map((d, i) => forwardDatumForCustomLoss(d, i));
    const forwardWire = this.checkData(forwardData, 'cross_entropy');
    const chunks = this.chunk(forwardData);
    // Both passes get their seq_ids now, so later calls line up behind the backward pass.
    const forwardSeqIds = chunks.map(() => this.nextSeqId());
    const forwardTurns = this.takeChunkTurns(chunks.length);
    const backwardSeqIds = chunks.map(() => this.nextSeqId());
    const backwardTurns = this.takeChunkTurns(chunks.length);
    const forward = this.sendChunks(wireChunks(chunks, forwardWire), forwardSeqIds, forwardTurns, 'cross_entropy', undefined, true, opts);
    let backwardSent = false;
    // If the backward pass never goes out, its seq_ids still must reach the server (it waits for
    // them); fill them with harmless forward passes.
    const fillBackwardSeqIds = () => {
      if (backwardSent) return;
      backwardSent = true;
      this.sendChunks(wireChunks(chunks, forwardWire), backwardSeqIds, backwardTurns, 'cross_entropy', undefined, true, opts).then(undefined, () => {});
    };
    forward.then(undefined, fillBackwardSeqIds);
    return forward.chain((out) => {
      let metrics: Record<string, number>;
      let backwardWire: wire.Datum[];
      try {
        const logprobs = out.lossFnOutputs.map((o, i) => {
          const lp = o['logprobs'];
          if (!lp) throw new ValidationError(`the forward pass returned no logprobs for datum ${i}`, { field: `loss_fn_outputs[${i}].logprobs` });
          return Float32Array.from(lp.toArray());
        });
        const evaluated = evaluateCustomLoss(lossFn, datums, logprobs);
        metrics = evaluated.metrics;
        // Cross-entropy's loss is -Σ weights·logprobs, so weights = -g back-propagates the custom loss.
        const backwardData = datums.map((d, i) => {
          const target = d.lossFnInputs['target_tokens']!;
          const g = evaluated.grads[i]!;
          const weights = new Float32Array(g.length);
          for (let k = 0; k < g.length; k++) weights[k] = -g[k]!;
          const shape = target.size === weights.length ? target.shape : [weights.length];
          return new Datum({ modelInput: d.modelInput, lossFnInputs: { target_tokens: target, weights: new TensorData(weights, { dtype: 'float32', shape }) } });
        });
        backwardWire = this.checkData(backwardData, 'cross_entropy');
      } catch (e) {
        fillBackwardSeqIds();
        throw e;
      }
      backwardSent = true;
      return this.sendChunks(wireChunks(chunks, backwardWire), backwardSeqIds, backwardTurns, 'cross_entropy', undefined, false, opts).map((res) => ({
        ...res,
        metrics: { ...res.metrics, ...metrics },
      }));
    });
  }

  /**
   * One step of the client's optimizer with the accumulated gradients: AdamParams for AdamW
   * (the default), DimuonParams (`type: 'dimuon'`) for a client created with Dimuon. The other
   * family's parameters are refused here, before anything is sent.
   */
  optimStep(params: OptimParams = {}, opts?: CallOptions): APIFuture<OptimStepResponse> {
    const fields = optimStepFields(this.optimizer, params);
    const body: wire.OptimStepRequest = { model_id: this.modelId, seq_id: this.nextSeqId(), ...fields, type: 'optim_step' };
    return this.ctx.runtime
      .submit<wire.OptimStepResponse>({ path: 'optim_step', body, requestType: 'OptimStep', resultKind: 'json', turn: this.takeTurn() }, opts)
      .map((res) => ({ metrics: res?.metrics ?? undefined }));
  }

  /** Saves weights and optimizer state as `tinker://<run>/weights/<name>`. */
  saveState(name: string, options: SaveStateOptions = {}, opts?: CallOptions): APIFuture<SaveWeightsResponse> {
    checkName(name);
    checkTtl(options.ttlSeconds);
    const body: wire.SaveWeightsRequest = { model_id: this.modelId, path: name, seq_id: this.nextSeqId(), type: 'save_weights' };
    if (options.ttlSeconds !== undefined) body.ttl_seconds = options.ttlSeconds;
    if (options.overwrite !== undefined) body.overwrite = options.overwrite;
    if (options.userMetadata !== undefined) body.user_metadata = options.userMetadata;
    return this.ctx.runtime
      .submit<wire.SaveWeightsResponse>({ path: 'save_weights', body, requestType: 'SaveWeights', resultKind: 'json', turn: this.takeTurn() }, opts)
      .map((res) => ({ path: res.path }));
  }

  /** Loads a checkpoint's weights; the optimizer starts fresh. */
  loadState(path: string, opts?: CallOptions): APIFuture<LoadWeightsResponse> {
    return this.load(path, false, opts);
  }

  /** Loads a checkpoint's weights and optimizer state, to resume training exactly. */
  loadStateWithOptimizer(path: string, opts?: CallOptions): APIFuture<LoadWeightsResponse> {
    return this.load(path, true, opts);
  }

  /** Saves the current weights for sampling as `tinker://<run>/sampler_weights/<name>`. */
  saveWeightsForSampler(name: string, options: SaveWeightsForSamplerOptions = {}, opts?: CallOptions): APIFuture<SaveWeightsForSamplerResponse> {
    checkName(name);
    checkTtl(options.ttlSeconds);
    const body: wire.SaveWeightsForSamplerRequest = { model_id: this.modelId, path: name, seq_id: this.nextSeqId(), type: 'save_weights_for_sampler' };
    if (options.ttlSeconds !== undefined) body.ttl_seconds = options.ttlSeconds;
    if (options.userMetadata !== undefined) body.user_metadata = options.userMetadata;
    return this.ctx.runtime
      .submit<wire.SaveWeightsForSamplerResponseInternal>({ path: 'save_weights_for_sampler', body, requestType: 'SaveWeightsForSampler', resultKind: 'json', turn: this.takeTurn() }, opts)
      .map((res) => {
        if (!res.path) throw new ValidationError('save_weights_for_sampler: the server returned no path', { field: 'path' });
        return { path: res.path };
      });
  }

  /**
   * A sampling client on the current weights. Without `name` the weights are ephemeral (a
   * sampling session only); with `name` they are also saved as sampler weights of that name.
   */
  saveWeightsAndGetSamplingClient(name?: string, opts?: CallOptions): APIFuture<SamplingClient> {
    if (name !== undefined) {
      return this.saveWeightsForSampler(name, {}, opts).chain((res) => this.createSamplingClient(res.path, opts));
    }
    const body: wire.SaveWeightsForSamplerRequest = {
      model_id: this.modelId,
      seq_id: this.nextSeqId(),
      sampling_session_seq_id: this.ctx.nextSamplingSessionSeqId(),
      type: 'save_weights_for_sampler',
    };
    return this.ctx.runtime
      .submit<wire.SaveWeightsForSamplerResponseInternal>({ path: 'save_weights_for_sampler', body, requestType: 'SaveWeightsForSampler', resultKind: 'json', turn: this.takeTurn() }, opts)
      .chain((res) => {
        if (!res.sampling_session_id) {
          throw new ValidationError('save_weights_for_sampler: the server returned no sampling_session_id', { field: 'sampling_session_id' });
        }
        return this.ctx.runtime.serverConfig().map((config) => new SamplingClient(this.ctx, { samplingSessionId: res.sampling_session_id!, config }));
      });
  }

  /** A sampling client on saved sampler weights. */
  createSamplingClient(modelPath: string, opts?: CallOptions): APIFuture<SamplingClient> {
    return this.ctx.openSamplingSession({ modelPath }, opts).map((init) => new SamplingClient(this.ctx, init));
  }

  getInfo(opts?: CallOptions): APIFuture<GetInfoResponse> {
    const body: wire.GetInfoRequest = { model_id: this.modelId, type: 'get_info' };
    return this.ctx.runtime.request<wire.GetInfoResponse>({ method: 'POST', path: 'get_info', body }, opts).map(getInfoFromWire);
  }

  /**
   * The tokenizer of this model's base model (resolved locally, see tokenizer.ts). For a name
   * with no bundled tokenizer, the server's get_info `tokenizer_id` picks it (a tinker-ts
   * stand-in names the bundled tokenizer it uses).
   */
  getTokenizer(opts?: CallOptions): APIFuture<Tokenizer> {
    const local = this.ctx.tokenizerOptions.tokenizerPath !== undefined || environment.variable('TINKER_TOKENIZER_DIR') !== undefined;
    if (this.baseModel && (local || tokenizerFamily(this.baseModel))) return APIFuture.resolved(getTokenizer(this.baseModel, this.ctx.tokenizerOptions));
    return this.getInfo(opts).map((info) => {
      const name = info.modelData.tokenizerId ?? info.modelData.modelName ?? info.modelName ?? this.baseModel;
      if (!name) throw new ValidationError('get_info returned no model name to pick a tokenizer by', { field: 'model_name' });
      return getTokenizer(name, this.ctx.tokenizerOptions);
    });
  }

  /** Frees the model on the server; the client is unusable afterwards. */
  unload(opts?: CallOptions): APIFuture<UnloadModelResponse> {
    const body: wire.UnloadModelRequest = { model_id: this.modelId, type: 'unload_model' };
    return this.ctx.runtime
      .submit<wire.UnloadModelResponse>({ path: 'unload_model', body, requestType: 'UnloadModel', resultKind: 'json', turn: this.takeTurn() }, opts)
      .map((res) => ({ modelId: res?.model_id ?? this.modelId }));
  }

  // ---------------------------------------------------------------- internals

  private nextSeqId(): number {
    return ++this.lastSeqId;
  }

  /** The next place in this client's order (taken when the method is called, like the seq_id). */
  private takeTurn(): ModelTurn {
    return { lane: this.turnLane, waitFor: this.turnsTaken++ };
  }

  /** Places for one batch of chunks, in the parallel or serial pattern the server's config asks for. */
  private takeChunkTurns(chunkCount: number): ModelTurn[] {
    const first = this.turnsTaken;
    this.turnsTaken += chunkCount;
    return chunkTurns(first, chunkCount, this.config.parallel_fwdbwd_chunks).map((waitFor) => ({ lane: this.turnLane, waitFor }));
  }

  private load(path: string, optimizer: boolean, opts?: CallOptions): APIFuture<LoadWeightsResponse> {
    checkTinkerPath(path, 'path');
    const body: wire.LoadWeightsRequest = { model_id: this.modelId, path, seq_id: this.nextSeqId(), optimizer, type: 'load_weights' };
    return this.ctx.runtime
      .submit<wire.LoadWeightsResponse>({ path: 'load_weights', body, requestType: 'LoadWeights', resultKind: 'json', turn: this.takeTurn() }, opts)
      .map((res) => ({ path: res?.path ?? undefined, modelId: res?.model_id ?? undefined }));
  }

  private runForwardBackward(
    data: readonly DatumLike[],
    lossFn: LossFnType,
    lossFnConfig: LossFnConfig | undefined,
    forwardOnly: boolean,
    opts?: CallOptions,
  ): APIFuture<ForwardBackwardOutput> {
    const datums = toDatums(data);
    const wireData = this.checkData(datums, lossFn);
    if (lossFnConfig !== undefined) protocolCheck(() => protocol.checkLossFnConfig(lossFn, lossFnConfig));
    const chunks = this.chunk(datums);
    const seqIds = chunks.map(() => this.nextSeqId());
    const turns = this.takeChunkTurns(chunks.length);
    return this.sendChunks(wireChunks(chunks, wireData), seqIds, turns, lossFn, lossFnConfig, forwardOnly, opts);
  }

  /** forward_backward with a registered custom loss: one request (the loss may couple every datum of the batch). */
  private runCustomLoss(
    data: readonly DatumLike[],
    loss: CustomLossRef,
    lossFnConfig: LossFnConfig | undefined,
    forwardOnly: boolean,
    opts?: CallOptions,
  ): APIFuture<ForwardBackwardOutput> {
    if (lossFnConfig !== undefined) throw new ValidationError('a custom loss takes no loss_fn_config (its constants are in its graph)', { field: 'loss_fn_config' });
    const datums = toDatums(data);
    if (datums.length === 0) throw new ValidationError('data: no data provided', { field: 'data' });
    const wireData = datums.map((d) => d.toWire());
    if (loss instanceof CustomLoss) {
      if (datums.length !== loss.datums) {
        throw new ValidationError(`data: the custom loss ${loss.name} is traced for ${loss.datums} datums, got ${datums.length}`, { field: 'data' });
      }
      protocolCheck(() => protocol.checkCustomLossData(wireData, loss.inputs, 'data'));
    }
    const input: wire.ForwardBackwardInput = { data: wireData, loss_fn: protocol.CUSTOM_LOSS_FN, loss_id: loss.lossId };
    const body: wire.ForwardBackwardRequest = { forward_backward_input: input, model_id: this.modelId, seq_id: this.nextSeqId(), forward_only: forwardOnly };
    // JSON, not protobuf: the protobuf ForwardBackwardRequest has no field for loss_id.
    return this.ctx.runtime
      .submit<wire.ForwardBackwardOutput>(
        { path: 'forward_backward', body, requestType: forwardOnly ? 'Forward' : 'ForwardBackward', resultKind: 'ForwardBackwardOutput', turn: this.takeTurn() },
        opts,
      )
      .map(forwardBackwardOutputFromWire);
  }

  /** Checks every datum for `lossFn` and returns their wire form. */
  private checkData(datums: readonly Datum[], lossFn: LossFnType): wire.Datum[] {
    if (datums.length === 0) throw new ValidationError('data: no data provided', { field: 'data' });
    protocolCheck(() => protocol.checkLossFnType(lossFn, 'loss_fn'));
    return datums.map((d, i) => {
      const w = d.toWire();
      protocolCheck(() => protocol.checkDatum(w, lossFn, `data[${i}]`));
      return w;
    });
  }

  private chunk(datums: readonly Datum[]): DatumChunk[] {
    return chunkData(datums, { maxChunkLen: this.config.fwdbwd_max_chunk_len, maxChunkBytes: this.config.fwdbwd_max_chunk_bytes_count });
  }

  /** Submits every chunk (first chunk last when parallel) and joins their outputs in datum order. */
  private sendChunks(
    chunks: readonly (readonly wire.Datum[])[],
    seqIds: readonly number[],
    turns: readonly ModelTurn[],
    lossFn: LossFnType,
    lossFnConfig: LossFnConfig | undefined,
    forwardOnly: boolean,
    opts?: CallOptions,
  ): APIFuture<ForwardBackwardOutput> {
    const futures: APIFuture<wire.ForwardBackwardOutput>[] = new Array(chunks.length);
    for (const i of submissionOrder(chunks.length, this.config.parallel_fwdbwd_chunks)) {
      const input: wire.ForwardBackwardInput = { data: [...chunks[i]!], loss_fn: lossFn };
      if (lossFnConfig !== undefined) input.loss_fn_config = lossFnConfig;
      const body: wire.ForwardBackwardRequest = { forward_backward_input: input, model_id: this.modelId, seq_id: seqIds[i]!, forward_only: forwardOnly };
      futures[i] = this.ctx.runtime.submit<wire.ForwardBackwardOutput>(
        {
          path: 'forward_backward',
          body,
          requestType: forwardOnly ? 'Forward' : 'ForwardBackward',
          resultKind: 'ForwardBackwardOutput',
          proto: 'ForwardBackwardRequest',
          turn: turns[i]!,
        },
        opts,
      );
    }
    return APIFuture.all(futures).map((outs) => combineChunkOutputs(outs.map(forwardBackwardOutputFromWire)));
  }
}

/** A loss registered with createCustomLoss; pass it to forwardBackward as the loss. */
export class CustomLoss {
  constructor(
    /** Names the loss in forward_backward requests of this session. */
    readonly lossId: string,
    readonly name: string,
    readonly inputs: readonly wire.CustomLossInput[],
    /** The batch size the loss was traced for. */
    readonly datums: number,
  ) {}
}

/** A registered custom loss: its handle, or `{ lossId }` of one this session registered. */
export type CustomLossRef = CustomLoss | { readonly lossId: string };

function isCustomLossRef(lossFn: unknown): lossFn is CustomLossRef {
  if (lossFn instanceof CustomLoss) return true;
  if (typeof lossFn !== 'object' || lossFn === null) return false;
  const id = (lossFn as { lossId?: unknown }).lossId;
  if (typeof id !== 'string' || id.length === 0) throw new ValidationError('loss_fn: a custom loss reference needs a non-empty lossId', { field: 'loss_id' });
  return true;
}

/** Numbers the training clients' order lanes within the process. */
let turnLanes = 0;

/** The batch as Datums; a bad datum's error names its index (`data[3].loss_fn_inputs.weights`). */
function toDatums(data: readonly DatumLike[]): Datum[] {
  if (!Array.isArray(data)) throw new ValidationError('data: expected an array of Datum', { field: 'data' });
  return data.map((d, i) => {
    try {
      return toDatum(d);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      const field = e.field ? `data[${i}].${e.field}` : `data[${i}]`;
      throw new ValidationError(`data[${i}].${e.message}`, { field });
    }
  });
}

/** The wire datums of each chunk. */
function wireChunks(chunks: readonly DatumChunk[], wireData: readonly wire.Datum[]): wire.Datum[][] {
  return chunks.map((c) => wireData.slice(c.start, c.start + c.data.length));
}

/** The datum the custom loss's forward pass sends: only target_tokens/weights, weights default 0. */
function forwardDatumForCustomLoss(d: Datum, i: number): Datum {
  const target = d.lossFnInputs['target_tokens'];
  if (!target) {
    throw new ValidationError('forwardBackwardCustom needs loss_fn_inputs.target_tokens', { field: `data[${i}].loss_fn_inputs.target_tokens` });
  }
  const extra = Object.keys(d.lossFnInputs).filter((k) => k !== 'target_tokens' && k !== 'weights');
  if (extra.length) {
    throw new ValidationError(`forwardBackwardCustom only takes target_tokens and weights; found ${extra.join(', ')}`, {
      field: `data[${i}].loss_fn_inputs.${extra[0]}`,
    });
  }
  if (d.lossFnInputs['weights']) return d;
  return d.withLossFnInputs({ weights: new TensorData(new Float32Array(target.size), { dtype: 'float32', shape: target.shape }) });
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.includes('..')) {
    throw new ValidationError(`name: expected a non-empty checkpoint name without '/', got ${JSON.stringify(name)}`, { field: 'path' });
  }
}

function checkTtl(ttl: number | undefined): void {
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) {
    throw new ValidationError(`ttl_seconds: must be a positive integer, got ${JSON.stringify(ttl)}`, { field: 'ttl_seconds' });
  }
}
