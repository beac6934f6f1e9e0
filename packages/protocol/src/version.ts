/**
 * The newest official Python SDK release whose wire this package implements.
 *
 * What that covers, by the release that introduced it:
 * - 0.25: protobuf bodies for forward_backward (request, zstd optional) and
 *   for ForwardBackwardOutput / SampleResponse results (field numbers in
 *   proto.ts); `client/config` flags incl. `create_model_via_load_weights`.
 * - 0.26.2: `sample_sequence_ids` on sampling futures (stamped onto each
 *   SampledSequence as `sequence_id`); `loss_fn_config_v2`.
 * - 0.28: TopkPromptLogprobs renamed TopkLogprobs, `prompt_length` → `length`
 *   (same field number).
 * - up to 0.32: SampleRequest `topk_sample_logprobs`, `target_prompt_logprobs`,
 *   `prompt_alt_tokens_k`, `prompt_logprobs_last_n`, `record_stability_info`;
 *   SampleResponse fields 5/6 and SampledSequence field 4; Datum provenance
 *   spans; `cancel_future`, `copy_weights`; `user_metadata`
 *   on saves and checkpoints; `SupportedModel.trainable/sampleable`; sampler
 *   handles (client-side).
 * - 0.33–0.38: the session-wide sample poll `retrieve_futures` (flag
 *   `sample_use_retrieve_futures`, cursor acks, `FutureCompletion`),
 *   `join_sampling_session` (a second client of one sampling session, numbered
 *   by `client_counter`), the optimizer chosen at create_model, server-side
 *   custom losses; a blocking `result()` that cannot make progress raises
 *   instead of hanging. Hosted Tinker refuses SDKs of 0.27 and earlier at
 *   create_session and warns 0.29–0.32.
 */
export const TINKER_WIRE_VERSION = '0.38.0';

/** Oldest official SDK the server keeps serving (results are protobuf-only from here on). */
export const TINKER_MIN_PROTO_SDK_VERSION = '0.25.0';

/**
 * Orders two SDK versions ("0.38.0", "0.26.2", "0.39.0rc1", "0.30"): negative when a is older.
 * Compares the numeric release parts only; a version without one sorts as 0.0.0.
 */
export function compareSdkVersions(a: string, b: string): number {
  const pa = releaseParts(a);
  const pb = releaseParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function releaseParts(v: string): number[] {
  const m = /^\s*v?(\d+(?:\.\d+)*)/.exec(v);
  return m ? m[1]!.split('.').map(Number) : [0];
}
