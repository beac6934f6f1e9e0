// What the clients made by one ServiceClient share: the runtime, the session's counters and the
// one way to open a sampling session. Plain types only, so that the clients depend on this file
// and not on each other.
import type * as wire from '@tinker-ts/protocol';
import type { APIFuture } from './future.js';
import type { CallOptions } from './runtime/options.js';
import type { Runtime } from './runtime/runtime.js';
import type { TokenizerOptions } from './tokenizer.js';

/** Saved sampler weights (`modelPath`) or a base model to sample from. */
export type SamplingClientOptions = { modelPath: string; baseModel?: undefined } | { baseModel: string; modelPath?: undefined };

/** An open sampling session: what a SamplingClient is made from. */
export interface SamplingSessionInit {
  samplingSessionId: string;
  /** The server's client/config. */
  config: wire.ClientConfigResponse;
  /** This client's number among the session's clients (join_sampling_session); 0 for the one that opened it. */
  clientCounter?: number;
}

/** @internal */
export interface ClientContext {
  readonly runtime: Runtime;
  readonly tokenizerOptions: TokenizerOptions;
  /** Numbers training clients within the session (`model_seq_id`). */
  nextModelSeqId(): number;
  /** Numbers sampling sessions within the session (`sampling_session_seq_id`). */
  nextSamplingSessionSeqId(): number;
  /** Numbers custom losses within the session (`custom_loss_seq_id`). */
  nextCustomLossSeqId(): number;
  /** create_sampling_session (checks `source` first, throwing a ValidationError at once). */
  openSamplingSession(source: SamplingClientOptions, opts?: CallOptions): APIFuture<SamplingSessionInit>;
}
