/**
 * The newest official Python SDK release whose wire this package implements.
 *
 * Covered: the 0.25 protobuf forward_backward/sample bodies (field numbers in
 * proto.ts), `client/config` flags incl. `create_model_via_load_weights` and
 * `sample_use_retrieve_futures`, dynamic config cancel flags, `sample_sequence_ids`
 * on sampling futures (0.26.2), SampleRequest `topk_sample_logprobs` /
 * `target_prompt_logprobs` / `prompt_alt_tokens_k` / `record_stability_info`,
 * TopkLogprobs rename, `loss_fn_config_v2`, Datum provenance spans,
 * `user_metadata` on saves and checkpoints, `SupportedModel.trainable/sampleable`,
 * `retrieve_futures`, `cancel_future`, `copy_weights`.
 */
export const TINKER_WIRE_VERSION = '0.31.0';

/** Oldest official SDK our server keeps serving (protobuf-only results from here on). */
export const TINKER_MIN_PROTO_SDK_VERSION = '0.25.0';
