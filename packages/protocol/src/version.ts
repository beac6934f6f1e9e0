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
 *   spans; `retrieve_futures`, `cancel_future`, `copy_weights`; `user_metadata`
 *   on saves and checkpoints; `SupportedModel.trainable/sampleable`.
 */
export const TINKER_WIRE_VERSION = '0.32.0';

/** Oldest official SDK the server keeps serving (results are protobuf-only from here on). */
export const TINKER_MIN_PROTO_SDK_VERSION = '0.25.0';
