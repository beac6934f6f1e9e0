// Shared setup of runtime tests: a scripted peer plus a runtime with fast timers and a captured log.
import { Runtime, type ClientOptions } from '../runtime.js';
import { startFakePeer, type FakePeer, type PeerScript } from './fake-peer.js';

export const FAST_TIMING = {
  backoffUnitMs: 5,
  submitRetryWindowMs: 5_000,
  pollTimeoutMs: 2_000,
  heartbeatIntervalMs: 40,
  heartbeatWarnAfterMs: 10_000,
  billingPauseMs: 5,
  minDynamicConfigRefreshMs: 10_000,
};

export interface Harness {
  peer: FakePeer;
  runtime: Runtime;
  warnings: string[];
  infos: string[];
  close(): Promise<void>;
}

export async function harness(script: PeerScript = {}, opts: ClientOptions = {}): Promise<Harness> {
  const peer = await startFakePeer(script);
  const warnings: string[] = [];
  const infos: string[] = [];
  const runtime = Runtime.create({
    baseURL: peer.baseURL,
    apiKey: 'tml-test',
    logger: { warn: (m) => warnings.push(m), info: (m) => infos.push(m) },
    ...opts,
    timing: { ...FAST_TIMING, ...(opts.timing ?? {}) },
  });
  return {
    peer, runtime, warnings, infos,
    close: async () => {
      await runtime.close();
      await peer.close();
    },
  };
}

/** Keeps the thread busy (no event loop turns) for `ms`. */
export function busyLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {}
}
