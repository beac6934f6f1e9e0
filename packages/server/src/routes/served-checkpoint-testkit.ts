/**
 * A server with a trained sampler checkpoint, for the tests of the OpenAI- and
 * Anthropic-compatible endpoints: the checkpoint is trained hard enough that its logprobs differ
 * from the base model's, and the SDK's own sampling client gives the reference tokens.
 */
import { ServiceClient, type Tokenizer } from '@tinker-ts/sdk';
import { E2E_API_KEY, E2E_MODEL, e2eBatch, startInProcessServer, type InProcessServer } from '../e2e-testkit.js';

export const SERVED_MODEL = E2E_MODEL;
export const OWNER_KEY = E2E_API_KEY;
export const OTHER_USER_KEY = 'tml-someone-else';

export interface ServedCheckpoint {
  running: InProcessServer;
  url: string;
  /** tinker://<run>/sampler_weights/<name>, owned by OWNER_KEY's user. */
  checkpointPath: string;
  tokenizer: Tokenizer;
  /** Greedy tokens the SDK samples from `prompt` with the checkpoint (or the base model without one). */
  greedyTokens(prompt: number[], maxTokens: number, modelPath?: string): Promise<number[]>;
  close(): Promise<void>;
}

export async function startServedCheckpoint(tmpPrefix: string): Promise<ServedCheckpoint> {
  const running = await startInProcessServer(tmpPrefix);
  const sc: ServiceClient = running.sc;
  const training = await sc.createLoraTrainingClient({ baseModel: SERVED_MODEL, rank: 4, seed: 5 });
  for (let step = 0; step < 3; step++) {
    await training.forwardBackward(e2eBatch(), 'cross_entropy');
    await training.optimStep({ learningRate: 2e-2 });
  }
  const saved = await training.saveWeightsForSampler('served');
  const tokenizer = await training.getTokenizer();
  return {
    running,
    url: running.server.url,
    checkpointPath: saved.path,
    tokenizer,
    async greedyTokens(prompt, maxTokens, modelPath) {
      const sampler = await sc.createSamplingClient(modelPath ? { modelPath } : { baseModel: SERVED_MODEL });
      const out = await sampler.sample({ prompt, samplingParams: { maxTokens, temperature: 0 } });
      return out.sequences[0]!.tokens;
    },
    close: () => running.close(),
  };
}
