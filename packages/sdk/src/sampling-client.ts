// Text generation from a sampling session (base model, saved sampler weights, or a training
// client's current weights). At most `sample_max_concurrent_requests` samples are in flight;
// the rest wait for a slot.
import * as protocol from '@tinker-ts/protocol';
import type * as wire from '@tinker-ts/protocol';
import { TimeoutError, ValidationError } from './errors.js';
import { APIFuture } from './future.js';
import { ModelInput } from './model-input.js';
import { TensorData } from './tensor-data.js';
import type { CallOptions } from './runtime/options.js';
import type { ClientContext, SamplingSessionInit } from './client-context.js';
import { getTokenizer, type Tokenizer } from './tokenizer.js';
import { encodeSamplerHandle } from './sampler-handle.js';
import {
  protocolCheck,
  sampleResponseFromWire,
  samplerFromWire,
  samplingParamsToWire,
  type SampleResponse,
  type SamplingParams,
} from './types.js';

export interface SampleOptions {
  prompt: ModelInput | readonly number[];
  /** Independent samples to draw; default 1. */
  numSamples?: number;
  samplingParams?: SamplingParams;
  /** Also return the logprob of every prompt token. */
  includePromptLogprobs?: boolean;
  /** Also return the top-k tokens at every prompt position; 0 (default) = off. */
  topkPromptLogprobs?: number;
  /** Also return, for every sampled token, the k most likely tokens with their logprobs; 0 (default) = off. */
  topkSampleLogprobs?: number;
  /**
   * Token ids whose logprobs to return inside the prompt: int64 [len(prompt) - 1, K] (a
   * TensorData, dense or CSR, or rows of ids); cell [i, j] is scored at prompt position i + 1,
   * and -1 asks for nothing. Answered as `targetPromptLogprobs` in the same shape and layout.
   */
  targetPromptLogprobs?: TensorData | readonly (readonly number[])[];
  /**
   * Draw this many tokens, independently and at the sampling temperature, from the model's
   * next-token distribution at every prompt position after the first; answered as
   * `promptAltTokens`. 0 (default) = off.
   */
  promptAltTokensK?: number;
  /** With `includePromptLogprobs`: return prompt logprobs (and top-k) for only the last n positions, null elsewhere. */
  promptLogprobsLastN?: number;
}

/** What a SamplingClient is made from: an open sampling session. */
export type SamplingClientInit = SamplingSessionInit;

/** A sample's wire result, with the sequence ids the submit response carried when the runtime passes them on. */
type WireSampleResult = wire.SampleResponse & { sample_sequence_ids?: string[] | null };

/** The n-th client of a sampling session numbers its samples from n × 1e9 (as the official SDK does). */
const SEQ_IDS_PER_CLIENT = 1_000_000_000;

export class SamplingClient {
  readonly samplingSessionId: string;
  /** This client's number among the sampling session's clients: 0 for the one that opened it, 1, 2, … for joined ones. */
  readonly clientCounter: number;
  private readonly ctx: ClientContext;
  private readonly maxInFlight: number;
  /** Next sample's seq_id (the official SDK numbers samples from 0). */
  private nextSeqId = 0;
  private inFlight: APIFuture<unknown>[] = [];

  /** @internal Made by ServiceClient and TrainingClient. */
  constructor(ctx: ClientContext, init: SamplingClientInit) {
    this.ctx = ctx;
    this.samplingSessionId = init.samplingSessionId;
    this.clientCounter = init.clientCounter ?? 0;
    this.nextSeqId = this.clientCounter * SEQ_IDS_PER_CLIENT;
    this.maxInFlight = Math.max(1, init.config.sample_max_concurrent_requests);
  }

  /** Draws `numSamples` continuations of `prompt`. */
  sample(options: SampleOptions, opts?: CallOptions): APIFuture<SampleResponse> {
    const {
      prompt,
      numSamples = 1,
      samplingParams = {},
      includePromptLogprobs = false,
      topkPromptLogprobs = 0,
      topkSampleLogprobs = 0,
      targetPromptLogprobs,
      promptAltTokensK = 0,
      promptLogprobsLastN,
    } = options ?? ({} as SampleOptions);
    const input = prompt instanceof ModelInput ? prompt : Array.isArray(prompt) ? ModelInput.fromInts(prompt) : undefined;
    if (!input) throw new ValidationError('prompt: expected a ModelInput or an array of token ids', { field: 'prompt' });
    if (input.chunks.length === 0 || input.length === 0) throw new ValidationError('prompt: must not be empty', { field: 'prompt' });
    if (!Number.isInteger(numSamples) || numSamples < 1) {
      throw new ValidationError(`num_samples: must be a positive integer, got ${JSON.stringify(numSamples)}`, { field: 'num_samples' });
    }
    const counts = [['topk_prompt_logprobs', topkPromptLogprobs], ['topk_sample_logprobs', topkSampleLogprobs], ['prompt_alt_tokens_k', promptAltTokensK]] as const;
    for (const [field, value] of counts) {
      if (!Number.isInteger(value) || value < 0) {
        throw new ValidationError(`${field}: must be a non-negative integer, got ${JSON.stringify(value)}`, { field });
      }
    }
    const scoring = promptScoringToWire(input.length, includePromptLogprobs, targetPromptLogprobs, promptLogprobsLastN);
    const params = samplingParamsToWire(samplingParams);
    protocolCheck(() => protocol.checkSamplingParams(params));
    const body: wire.SampleRequest = {
      sampling_session_id: this.samplingSessionId,
      seq_id: this.nextSeqId++,
      num_samples: numSamples,
      prompt: input.toWire(),
      sampling_params: params,
      prompt_logprobs: includePromptLogprobs,
      topk_prompt_logprobs: topkPromptLogprobs,
      topk_sample_logprobs: topkSampleLogprobs,
      // Sent only when asked for, so requests without it stay what servers before it accept.
      ...(promptAltTokensK > 0 ? { prompt_alt_tokens_k: promptAltTokensK } : {}),
      ...scoring,
      type: 'sample',
    };
    return this.whenSlotFree(() =>
      this.ctx.runtime
        .submit<WireSampleResult>({ path: 'asample', body, requestType: 'Sample', resultKind: 'SampleResponse', cancelWhenAbandoned: true }, opts)
        .map((res) => {
          const out = sampleResponseFromWire(res, res.sample_sequence_ids);
          if (out.sequences.length !== numSamples) {
            throw new ValidationError(`asample: asked for ${numSamples} samples, the server returned ${out.sequences.length}`, { field: 'sequences' });
          }
          // A server that predates these fields ignores them: say so rather than return less than was asked.
          if (promptAltTokensK > 0 && !out.promptAltTokens) {
            throw new ValidationError(`asample: prompt_alt_tokens_k=${promptAltTokensK} was asked for, the server returned no prompt_alt_tokens (it may predate them)`, { field: 'prompt_alt_tokens' });
          }
          if (scoring.target_prompt_logprobs && !out.targetPromptLogprobs) {
            throw new ValidationError('asample: target_prompt_logprobs was asked for, the server returned none (it may predate them)', { field: 'target_prompt_logprobs' });
          }
          return out;
        }),
    );
  }

  /**
   * Logprob of every prompt token (null for the first), from one 1-token sample: the list the
   * newer official SDK's ComputeLogprobsResponse carries as `logprobs`.
   */
  computeLogprobs(prompt: ModelInput | readonly number[], opts?: CallOptions): APIFuture<Array<number | null>> {
    return this.sample({ prompt, numSamples: 1, samplingParams: { maxTokens: 1 }, includePromptLogprobs: true }, opts).map((res) => {
      if (!res.promptLogprobs) throw new ValidationError('asample: the server returned no prompt_logprobs', { field: 'prompt_logprobs' });
      return res.promptLogprobs;
    });
  }

  getBaseModel(opts?: CallOptions): APIFuture<string> {
    return this.ctx.runtime
      .request<wire.GetSamplerResponse>({ method: 'GET', path: `samplers/${encodeURIComponent(this.samplingSessionId)}` }, opts)
      .map((res) => samplerFromWire(res).baseModel);
  }

  /**
   * A string naming this sampling session and its server, without credentials: another process
   * passes it to `ServiceClient.samplingClientFromHandle` to sample from the same session.
   */
  getSamplerHandle(): string {
    return encodeSamplerHandle({ samplingSessionId: this.samplingSessionId, baseURL: this.ctx.runtime.serverAddress });
  }

  /** The tokenizer of the base model (resolved locally, see tokenizer.ts). */
  getTokenizer(opts?: CallOptions): APIFuture<Tokenizer> {
    return this.getBaseModel(opts).map((name) => getTokenizer(name, this.ctx.tokenizerOptions));
  }

  /** Starts `send` now if fewer than the limit are in flight, else after the oldest finishes. */
  private whenSlotFree<T>(send: () => APIFuture<T>): APIFuture<T> {
    // Pruning by done() (not by callbacks) keeps this right while result() blocks the event loop.
    this.inFlight = this.inFlight.filter((f) => !f.done());
    if (this.inFlight.length < this.maxInFlight) {
      const f = send();
      this.inFlight.push(f);
      return f;
    }
    // Only submitted requests count as in flight; a queued one re-checks when the oldest ends.
    return settled(this.inFlight[0]!).chain(() => this.whenSlotFree(send));
  }
}

/**
 * The prompt-scoring fields of a sample request, checked as far as the prompt alone allows (the
 * server checks the rest: token ids against the vocabulary, the width it serves).
 */
function promptScoringToWire(
  promptLength: number,
  includePromptLogprobs: boolean,
  target: TensorData | readonly (readonly number[])[] | undefined,
  lastN: number | undefined,
): Pick<wire.SampleRequest, 'target_prompt_logprobs' | 'prompt_logprobs_last_n'> {
  const out: Pick<wire.SampleRequest, 'target_prompt_logprobs' | 'prompt_logprobs_last_n'> = {};
  if (lastN !== undefined) {
    if (!includePromptLogprobs) {
      throw new ValidationError('prompt_logprobs_last_n: needs includePromptLogprobs: true', { field: 'prompt_logprobs_last_n' });
    }
    if (!Number.isInteger(lastN) || lastN < 1 || lastN > promptLength - 1) {
      throw new ValidationError(`prompt_logprobs_last_n: must be an integer in [1, len(prompt) - 1 = ${promptLength - 1}], got ${JSON.stringify(lastN)}`, {
        field: 'prompt_logprobs_last_n',
      });
    }
    out.prompt_logprobs_last_n = lastN;
  }
  if (target !== undefined) {
    const td = target instanceof TensorData ? target : TensorData.from(target, 'int64');
    const tdWire = td.toWire();
    protocolCheck(() => protocol.readPromptTargets(tdWire, promptLength));
    out.target_prompt_logprobs = tdWire;
  }
  return out;
}

/** Resolves (with nothing) once `f` settles either way. */
function settled(f: APIFuture<unknown>): APIFuture<void> {
  return new APIFuture<void>({
    requestId: () => undefined,
    done: () => f.done(),
    waitSync: (deadline: number) => {
      try {
        f.result(deadline === Infinity ? undefined : Math.max(0, deadline - Date.now()));
      } catch (e) {
        if (e instanceof TimeoutError) throw e;
      }
    },
    promise: f.then(
      () => undefined,
      () => undefined,
    ),
  });
}
