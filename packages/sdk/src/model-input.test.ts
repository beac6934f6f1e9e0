import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelInput, imageAssetPointerChunk, imageChunk } from './model-input.js';
import { ValidationError } from './errors.js';

test('fromInts, toInts, length, append and appendInt', () => {
  const mi = ModelInput.fromInts([1, 2, 3]);
  assert.deepEqual(mi.toInts(), [1, 2, 3]);
  assert.equal(mi.length, 3);
  const longer = mi.appendInt(4).append({ type: 'encoded_text', tokens: [5, 6] });
  assert.deepEqual(longer.toInts(), [1, 2, 3, 4, 5, 6]);
  assert.equal(longer.chunks.length, 3);
  assert.equal(mi.length, 3, 'append returns a new input');
  assert.equal(mi.appendInts([7, 8]).chunks.length, 1, 'appendInts merges into the trailing token chunk');
  assert.equal(ModelInput.empty().length, 0);
});

test('image chunks count their expected tokens and go to the wire as base64', () => {
  const bytes = new Uint8Array([137, 80, 78, 71]);
  const mi = ModelInput.fromInts([1]).append(imageChunk(bytes, 'png', 5)).appendInt(2);
  assert.equal(mi.length, 7);
  const wire = mi.toWire();
  assert.deepEqual(wire.chunks[1], { type: 'image', data: Buffer.from(bytes).toString('base64'), format: 'png', expected_tokens: 5 });
  const back = ModelInput.fromWire(wire);
  const img = back.chunks[1];
  assert.ok(img && img.type === 'image');
  assert.deepEqual(Array.from(img.data), Array.from(bytes));
  assert.throws(() => back.toInts(), /only supports token chunks/);
});

test('length needs expected_tokens of image chunks', () => {
  const mi = ModelInput.empty().append(imageAssetPointerChunk('s3://bucket/cat.jpeg', 'jpeg'));
  assert.throws(() => mi.length, (e: unknown) => e instanceof ValidationError && e.field === 'model_input.chunks[0].expected_tokens');
  assert.deepEqual(mi.toWire().chunks[0], { type: 'image_asset_pointer', location: 's3://bucket/cat.jpeg', format: 'jpeg' });
});

test('invalid tokens and chunk types are rejected naming the field', () => {
  assert.throws(() => ModelInput.fromInts([1, -2]), (e: unknown) => e instanceof ValidationError && e.field === 'model_input.chunks[0].tokens');
  assert.throws(() => ModelInput.fromInts([1.5]), ValidationError);
  assert.throws(() => ModelInput.fromWire({ chunks: [{ type: 'audio' } as never] }), /unsupported chunk type "audio"/);
  assert.throws(() => ModelInput.fromInts([1]).append(imageChunk(new Uint8Array(1), 'gif' as never)), /must be 'png' or 'jpeg'/);
});
