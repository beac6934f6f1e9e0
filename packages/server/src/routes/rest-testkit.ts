/**
 * Test fixture for the REST, tenancy and CLI tests: a real server (tiny stand-in model) and one
 * user's objects of every kind — session, training run, futures, a training checkpoint, a
 * sampler checkpoint and a sampling session.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../server.js';
import { TestClient, TINY_MODEL } from '../testkit.js';

export interface UserObjects {
  client: TestClient;
  sessionId: string;
  modelId: string;
  /** request_id of a finished future (the save). */
  futureId: string;
  weightsPath: string;
  samplerPath: string;
  samplerId: string;
}

export interface RestFixture {
  server: RunningServer;
  dataDir: string;
  close(): Promise<void>;
}

export async function startRestFixture(prefix: string): Promise<RestFixture> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const server = await startServer({ dataDir, port: 0 });
  return {
    server,
    dataDir,
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a session, a model, a training and a sampler checkpoint, and a sampling session. */
export async function createUserObjects(baseUrl: string, apiKey: string, names: { weights?: string; sampler?: string } = {}): Promise<UserObjects> {
  const client = new TestClient(baseUrl, apiKey);
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0, 2, 7);
  const save = await client.post('save_weights', { model_id: modelId, path: names.weights ?? 'w1', seq_id: 1 });
  const saved = await client.result(save.request_id);
  const samp = await client.post('save_weights_for_sampler', { model_id: modelId, path: names.sampler ?? 's1', seq_id: 2 });
  const sampSaved = await client.result(samp.request_id);
  const ss = await client.post('create_sampling_session', {
    session_id: sessionId,
    sampling_session_seq_id: 0,
    base_model: TINY_MODEL,
    type: 'create_sampling_session',
  });
  return {
    client,
    sessionId,
    modelId,
    futureId: save.request_id,
    weightsPath: saved.path,
    samplerPath: sampSaved.path,
    samplerId: ss.sampling_session_id,
  };
}

/** The REST route of a checkpoint, slash kept as the official SDK sends it. */
export function checkpointRoute(tinkerPath: string): string {
  const [runId, kind, name] = tinkerPath.slice('tinker://'.length).split('/');
  return `training_runs/${encodeURIComponent(runId!)}/checkpoints/${kind}/${encodeURIComponent(name!)}`;
}
