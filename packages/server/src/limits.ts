/**
 * What one request may cost the server, in one place: how large its body may be (on the wire
 * and once inflated), how deeply its JSON may nest, and how much engine work it may ask for.
 * Bodies are checked by the router as they stream in; the compute caps by the training and
 * sampling routes before anything is queued. Each limit is refused with a 4xx naming it.
 */
import { modelInputLength, type Datum } from '@tinker-ts/protocol';
import { BadRequestError } from './errors.js';

export interface RequestLimits {
  /** Largest body of an ordinary route (sessions, models, weights, futures, telemetry, REST), on the wire. */
  maxBodyBytes: number;
  /** Largest an ordinary route's zstd body may inflate to. */
  maxDecompressedBytes: number;
  /** Largest body of a data route (forward, forward_backward, asample), on the wire. */
  maxDataBodyBytes: number;
  /** Largest a data route's zstd body may inflate to. */
  maxDataDecompressedBytes: number;
  /** Deepest nesting of objects and arrays in a JSON body. */
  maxJsonDepth: number;
  /** Most tokens one forward / forward_backward may carry, summed over its datums. */
  maxTrainingTokens: number;
  /** Most tokens one asample may generate: num_samples × max_tokens. */
  maxSampledTokens: number;
  /**
   * Widest prompt scoring one asample may ask for, as len(prompt) × width: the distinct ids of
   * target_prompt_logprobs, and prompt_alt_tokens_k, each on its own.
   */
  maxPromptScoredCells: number;
}

const MiB = 1024 * 1024;

/**
 * Generous for real use: the official SDK splits forward_backward batches into requests of at
 * most 5,000,000 estimated protobuf bytes (≈ 300k tokens of cross-entropy data, ≈ 10 MB as
 * JSON), and sends everything else in bodies of kilobytes.
 */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxBodyBytes: 4 * MiB,
  maxDecompressedBytes: 4 * MiB,
  maxDataBodyBytes: 32 * MiB,
  maxDataDecompressedBytes: 32 * MiB,
  maxJsonDepth: 64,
  maxTrainingTokens: 1 << 19,
  maxSampledTokens: 1 << 19,
  // ≈ 12 MB of results as protobuf.
  maxPromptScoredCells: 1 << 20,
});

/** Refuses a forward / forward_backward whose datums hold more tokens than one request may. */
export function checkTrainingCost(data: readonly Datum[], limits: RequestLimits, field: string): void {
  let tokens = 0;
  for (const d of data) tokens += modelInputLength(d.model_input);
  if (tokens > limits.maxTrainingTokens) {
    throw new BadRequestError(
      `${field} holds ${tokens} tokens in ${data.length} datums; one request may carry at most ${limits.maxTrainingTokens} ` +
        '(send the batch in smaller requests)',
      { field },
    );
  }
}

/**
 * Refuses an asample that could generate more tokens than one request may. `maxTokens` is what
 * the engine would allow: max_tokens, or the rest of the context when it is unset.
 */
export function checkSampleCost(numSamples: number, maxTokens: number, limits: RequestLimits, unset = false): void {
  if (numSamples * maxTokens > limits.maxSampledTokens) {
    const what = unset ? `max_tokens (unset: the rest of the context, ${maxTokens})` : `max_tokens (${maxTokens})`;
    throw new BadRequestError(
      `num_samples (${numSamples}) × ${what} = ${numSamples * maxTokens} tokens; one request may generate at most ` +
        `${limits.maxSampledTokens} (set a smaller max_tokens, ask for fewer samples, or send several requests)`,
      { field: 'num_samples' },
    );
  }
}

/**
 * Refuses prompt scoring wider than one request may ask for: `width` values at each of
 * `promptLength` positions (the newer official SDK documents the same measure).
 */
export function checkPromptScoringCost(promptLength: number, width: number, what: string, field: string, limits: RequestLimits): void {
  const cells = promptLength * width;
  if (cells > limits.maxPromptScoredCells) {
    throw new BadRequestError(
      `len(prompt) (${promptLength}) × ${what} (${width}) = ${cells}; one request may score at most ${limits.maxPromptScoredCells} ` +
        '(ask for fewer, or split the prompt across requests)',
      { field },
    );
  }
}
