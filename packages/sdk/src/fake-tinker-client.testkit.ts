// A ServiceClient wired to a fresh fake Tinker peer, closed with the test; and a probe for the
// field a ValidationError names.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeTinker, type FakeTinker, type FakeTinkerOptions } from './fake-tinker.testkit.js';
import { ServiceClient } from './service-client.js';
import { ValidationError } from './errors.js';

export async function connectFakeTinker(t: TestContext, options: FakeTinkerOptions = {}): Promise<{ peer: FakeTinker; service: ServiceClient }> {
  const peer = await startFakeTinker(options);
  const service = new ServiceClient({ baseURL: peer.baseURL, apiKey: 'tml-test', timing: { backoffUnitMs: 5 } });
  t.after(async () => {
    await service.close();
    await peer.close();
  });
  return { peer, service };
}

/** The `field` of the ValidationError `fn` throws synchronously; fails the test if it throws none. */
export function validationFieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    return e.field;
  }
  assert.fail('expected a ValidationError');
}
