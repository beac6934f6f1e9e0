// The SDK's smoke test as a web page runs it: bundled by esbuild for platform=browser (no Node
// built-ins), loaded in headless Chromium by src/browser-sdk.test.ts, against a server on another
// origin (CORS). Trains with await, checks that a blocking result() refuses at once, samples, and
// leaves what it saw in window.smoke.
import { ServiceClient, Datum } from '@tinker-ts/sdk';

async function run(baseURL) {
  const service = new ServiceClient({ baseURL, apiKey: 'tml-browser-smoke' });
  try {
    const training = await service.createLoraTrainingClient({ baseModel: 'tinker-ts/tiny-qwen3', rank: 2, seed: 1 });
    const datum = Datum.fromTokens([11, 22, 33, 44, 55, 66]);
    const first = await training.forwardBackward([datum], 'cross_entropy');
    await training.optimStep({ learningRate: 5e-2 });
    const second = await training.forwardBackward([datum], 'cross_entropy');
    let blockingError = '';
    const pending = training.forwardBackward([datum], 'cross_entropy');
    try {
      pending.result(1000);
    } catch (e) {
      blockingError = e.message;
    }
    await pending;
    const sampler = await training.saveWeightsAndGetSamplingClient();
    const out = await sampler.sample({ prompt: [11, 22, 33], samplingParams: { maxTokens: 3, temperature: 0 } });
    return { first: first.metrics['loss:sum'], second: second.metrics['loss:sum'], blockingError, sampled: out.sequences[0].tokens.length };
  } finally {
    await service.close();
  }
}

window.runSmoke = (baseURL) => run(baseURL).catch((e) => ({ error: `${e.name}: ${e.message}` }));
