/**
 * The prompt-scoring fields of an asample, checked against its prompt before anything is queued,
 * so a malformed or too costly request gets a 400 naming the field rather than a failed future.
 */
import { readPromptTargets, type SampleRequest } from '@tinker-ts/protocol';
import { BadRequestError } from '../errors.js';
import { checkPromptScoringCost, type RequestLimits } from '../limits.js';

export function checkPromptScoring(body: SampleRequest, promptLength: number, limits: RequestLimits): void {
  if (body.record_stability_info === true) {
    // The flag asks the sampler to keep what the stable_reinforce loss later needs of each
    // sequence; the response carries nothing for it. This server does not serve that loss, so
    // nothing kept could ever be used, and accepting the flag would only pretend.
    throw new BadRequestError(
      'record_stability_info is not supported by this server: it only serves the stable_reinforce loss, which this server ' +
        'does not offer (send false, and train with importance_sampling, ppo or cispo)',
      { field: 'record_stability_info' },
    );
  }
  // No published official SDK source or reference page describes prompt_logprobs_last_n; it is
  // read as its name says, and as other servers of this wire read it: prompt logprobs, and their
  // top-k lists, for the last n prompt positions only, null before them, with prompt_logprobs set.
  const lastN = body.prompt_logprobs_last_n ?? null;
  if (lastN !== null) {
    if (body.prompt_logprobs !== true) {
      throw new BadRequestError('prompt_logprobs_last_n needs prompt_logprobs: true', { field: 'prompt_logprobs_last_n' });
    }
    if (lastN > promptLength - 1) {
      throw new BadRequestError(
        `prompt_logprobs_last_n must be between 1 and len(prompt) - 1 = ${promptLength - 1} (positions that have a logprob), got ${lastN}`,
        { field: 'prompt_logprobs_last_n' },
      );
    }
  }
  if (body.target_prompt_logprobs != null) {
    const targets = readPromptTargets(body.target_prompt_logprobs, promptLength);
    checkPromptScoringCost(promptLength, targets.distinctIds, 'distinct target ids', 'target_prompt_logprobs', limits);
  }
  const altK = body.prompt_alt_tokens_k ?? 0;
  if (altK > 0) checkPromptScoringCost(promptLength, altK, 'prompt_alt_tokens_k', 'prompt_alt_tokens_k', limits);
}
