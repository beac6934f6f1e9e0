// The SDK's end-to-end smoke test in plain JavaScript, run under Bun and Deno by
// src/other-runtimes.test.ts against a server it started: both the await path and a blocking
// result(), on the built SDK as a user imports it. Prints one JSON line with what it saw.
import { ServiceClient, Datum } from '@tinker-ts/sdk';

const service = new ServiceClient({ baseURL: process.env.TINKER_BASE_URL, apiKey: 'tml-runtime-smoke' });
try {
  const training = await service.createLoraTrainingClient({ baseModel: 'tinker-ts/tiny-qwen3', rank: 2, seed: 1 });
  const datum = Datum.fromTokens([11, 22, 33, 44, 55, 66]);
  const first = training.forwardBackward([datum], 'cross_entropy');
  const optim = training.optimStep({ learningRate: 5e-2 });
  const awaited = (await first).metrics['loss:sum'];
  await optim;
  // Blocking style: the SDK's network thread settles it while this thread waits.
  const blocked = training.forwardBackward([datum], 'cross_entropy').result(60_000).metrics['loss:sum'];
  const sampler = await training.saveWeightsAndGetSamplingClient();
  const out = await sampler.sample({ prompt: [11, 22, 33], samplingParams: { maxTokens: 3, temperature: 0 } });
  console.log(JSON.stringify({ awaited, blocked, sampled: out.sequences[0].tokens.length }));
} finally {
  await service.close();
}
