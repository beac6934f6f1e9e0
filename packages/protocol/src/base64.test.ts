import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base64ToBytes, bytesToBase64 } from './base64.js';

const samples = [new Uint8Array(), Uint8Array.of(0), Uint8Array.of(255, 254), Uint8Array.of(1, 2, 3), new Uint8Array(70_000).map((_, i) => (i * 37) & 255)];

test('base64 round-trips and agrees with Buffer', () => {
  for (const bytes of samples) {
    const text = bytesToBase64(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(base64ToBytes(text), bytes);
  }
});

test('the portable path (no Buffer) gives the same answers, URL-safe and unpadded input included', async () => {
  const saved = globalThis.Buffer;
  // A fresh module instance that sees no Buffer, as in a browser.
  (globalThis as { Buffer?: unknown }).Buffer = undefined;
  try {
    const portable = (await import(`./base64.js?portable=${Date.now()}`)) as typeof import('./base64.js');
    for (const bytes of samples) {
      const text = saved.from(bytes).toString('base64');
      assert.equal(portable.bytesToBase64(bytes), text);
      assert.deepEqual(portable.base64ToBytes(text), bytes);
      assert.deepEqual(portable.base64ToBytes(saved.from(bytes).toString('base64url')), bytes);
    }
    assert.deepEqual(portable.base64ToBytes('-_8'), Uint8Array.of(0xfb, 0xff));
  } finally {
    globalThis.Buffer = saved;
  }
});
