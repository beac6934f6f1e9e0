import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSafetensors, serializeSafetensors, tensorAsFloat32, SafetensorsError } from './safetensors.js';

function sample() {
  return {
    'b.weight': { data: Float32Array.from([1, -2.5, 3e-8, 1e30, -0]), shape: [5] },
    'a.weight': { data: Float32Array.from({ length: 6 }, (_, i) => i / 7), shape: [2, 3] },
  };
}

test('safetensors round trip keeps f32 values bit-exact, shapes and metadata', () => {
  const bytes = serializeSafetensors(sample(), { metadata: { format: 'pt' } });
  const f = parseSafetensors(bytes);
  assert.deepEqual([...f.tensors.keys()], ['a.weight', 'b.weight']);
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.deepEqual(f.tensors.get('a.weight')!.shape, [2, 3]);
  for (const [name, t] of Object.entries(sample())) {
    const back = tensorAsFloat32(f, name);
    assert.deepEqual(new Uint32Array(back.buffer), new Uint32Array(t.data.buffer));
  }
});

test('safetensors output is byte-identical regardless of insertion order', () => {
  const s = sample();
  const reversed = { 'a.weight': s['a.weight'], 'b.weight': s['b.weight'] };
  assert.deepEqual(serializeSafetensors(s), serializeSafetensors(reversed));
});

test('safetensors data section starts 8-byte aligned', () => {
  const bytes = serializeSafetensors(sample());
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0);
});

test('bf16 storage rounds to nearest and reads back widened', () => {
  const data = Float32Array.from([1, 1.00390625, 1.01171875, -3.14159, 65504, 1e-3]);
  const f = parseSafetensors(serializeSafetensors({ x: { data, shape: [6] } }, { dtype: 'BF16' }));
  assert.equal(f.tensors.get('x')!.dtype, 'BF16');
  const back = tensorAsFloat32(f, 'x');
  assert.equal(back[0], 1);
  assert.equal(back[1], 1); // halfway case rounds to even
  assert.equal(back[2], 1.015625); // halfway, rounds up to even
  for (let i = 0; i < data.length; i++) assert.ok(Math.abs(back[i] - data[i]) <= Math.abs(data[i]) / 128);
});

test('f16 tensors are widened to float32', () => {
  const header = JSON.stringify({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] } });
  const bytes = new Uint8Array(8 + header.length + 6);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  bytes.set(new TextEncoder().encode(header), 8);
  view.setUint16(8 + header.length, 0x3c00, true); // 1.0
  view.setUint16(8 + header.length + 2, 0xc000, true); // -2.0
  view.setUint16(8 + header.length + 4, 0x0001, true); // smallest subnormal
  assert.deepEqual([...tensorAsFloat32(parseSafetensors(bytes), 'h')], [1, -2, 2 ** -24]);
});

test('truncated safetensors file gives a clear error', () => {
  const bytes = serializeSafetensors(sample());
  assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 4), 'x.safetensors'),
    (e: Error) => e instanceof SafetensorsError && /x\.safetensors.*outside the .*data section/.test(e.message));
  assert.throws(() => parseSafetensors(bytes.subarray(0, 5)), /too short/);
});

test('corrupt safetensors headers give clear errors', () => {
  const withHeader = (h: string, extra = 0) => {
    const b = new Uint8Array(8 + h.length + extra);
    new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
    b.set(new TextEncoder().encode(h), 8);
    return b;
  };
  assert.throws(() => parseSafetensors(withHeader('{not json')), /not valid JSON/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => parseSafetensors(huge), /header length 1000 exceeds/);
  assert.throws(() => parseSafetensors(withHeader('{"t":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}', 4)), /unsupported dtype/);
  assert.throws(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4)), /needs 8/);
  assert.throws(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 4)), /outside/);
  const f = parseSafetensors(withHeader('{"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', 8));
  assert.throws(() => tensorAsFloat32(f, 't'), /expected a float type/);
  assert.throws(() => tensorAsFloat32(f, 'nope'), /"nope" is missing/);
});

test('serializing a tensor whose shape does not match its data is refused', () => {
  assert.throws(() => serializeSafetensors({ t: { data: new Float32Array(3), shape: [2, 2] } }), /does not match/);
});
