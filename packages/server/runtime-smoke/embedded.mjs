// `new ServiceClient()` with no base URL under another runtime: it starts (or finds) the local
// server of TINKER_HOME and lists its models. Run by src/other-runtimes.test.ts.
import { ServiceClient } from '@tinker-ts/sdk';

const service = new ServiceClient();
try {
  const caps = await service.getServerCapabilities();
  console.log(`models: ${caps.supportedModels.map((m) => m.modelName).join(', ')}`);
} finally {
  await service.close();
}
