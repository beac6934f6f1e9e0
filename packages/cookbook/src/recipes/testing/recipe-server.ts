// What the recipe tests share: an in-process server on a temporary directory with a client of
// it, a small intent-classification task the stand-in model learns in a few steps, and quiet logs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceClient } from '@tinker-ts/sdk';
import { startServer, type RunningServer } from '@tinker-ts/server';
import type { Message } from '../../renderers/message.js';

export const STAND_IN = 'tinker-ts/tiny-qwen3';
export const RENDERER = 'qwen3_disable_thinking';

export interface RecipeServer {
  server: RunningServer;
  service: ServiceClient;
  dir: string;
  close(): Promise<void>;
}

export async function startRecipeServer(): Promise<RecipeServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tinker-ts-recipes-'));
  const server = await startServer({ dataDir: join(dir, 'server'), port: 0 });
  const service = new ServiceClient({ baseURL: server.url, apiKey: 'tml-recipes-test' });
  return {
    server, service, dir,
    close: async () => {
      await service.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const REQUESTS: Array<[string, string]> = [
  ['Is it going to rain in Oslo?', 'weather'],
  ['Set a timer for ten minutes.', 'timer'],
  ['Play something by Queen.', 'music'],
  ['How do I bake bread?', 'recipe'],
  ['Will it be sunny in Rome tomorrow?', 'weather'],
  ['Wake me in 20 minutes.', 'timer'],
  ['Put on some jazz.', 'music'],
  ['How do I make pancakes?', 'recipe'],
  ['How cold is it in Cairo?', 'weather'],
  ['Count down five minutes.', 'timer'],
  ['I want to hear Bob Marley.', 'music'],
  ['Give me a recipe for soup.', 'recipe'],
  ['Is there snow in Denver?', 'weather'],
  ['Start a 30 second timer.', 'timer'],
  ['Play the Beatles.', 'music'],
  ['How do I cook rice?', 'recipe'],
];

export function intentReply(intent: string): string {
  return `{"intent": "${intent}"}`;
}

/** Sixteen requests, each with the JSON reply naming its intent. */
export function intentConversations(): Message[][] {
  return REQUESTS.map(([q, intent]) => [
    { role: 'user', content: q },
    { role: 'assistant', content: intentReply(intent) },
  ]);
}

export const quiet = (): void => {};

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
