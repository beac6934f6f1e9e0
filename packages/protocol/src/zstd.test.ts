import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zstdCompress, zstdDecompress, zstdFrames } from './zstd.js';
import { ProtocolError } from './errors.js';

const text = (s: string) => new TextEncoder().encode(s);

test('zstd round trip restores the bytes', async () => {
  const input = text('forward_backward '.repeat(50_000));
  const packed = await zstdCompress(input);
  assert.ok(packed.length < input.length / 50);
  assert.deepEqual(await zstdDecompress(packed, input.length), input);
});

test('zstd round trip of empty input', async () => {
  const packed = await zstdCompress(new Uint8Array(0));
  assert.equal((await zstdDecompress(packed, 10)).length, 0);
});

test('output over the cap is refused from the frame header, before decompressing', async () => {
  const input = new Uint8Array(4 << 20); // 4 MiB of zeros compresses to a few hundred bytes
  const packed = await zstdCompress(input);
  assert.equal(zstdFrames(packed)[0]!.contentSize, input.length);
  await assert.rejects(zstdDecompress(packed, 1 << 20), (err: unknown) => err instanceof ProtocolError && /exceeds the 1048576-byte limit/.test(err.message));
});

/** Rewrite a frame header so it no longer declares the content size (as streaming encoders do). */
function dropContentSize(frame: Uint8Array): Uint8Array {
  const fhd = frame[4]!;
  assert.equal(fhd >> 6, 2, 'test expects a 4-byte content size field');
  assert.equal(fhd & 3, 0, 'test expects no dictionary id');
  const singleSegment = (fhd >> 5) & 1;
  // Single-segment frames have no window descriptor; give one of 2^23 bytes.
  const windowDescriptor = singleSegment ? 13 << 3 : frame[5]!;
  const fcsAt = singleSegment ? 5 : 6;
  const newFhd = fhd & 0b0000_0111; // FCS flag 0, not single-segment, keep the checksum bit
  return new Uint8Array([...frame.subarray(0, 4), newFhd, windowDescriptor, ...frame.subarray(fcsAt + 4)]);
}

test('a frame without a declared size is decompressed into a buffer its block headers bound, and still capped', async () => {
  const input = text('abc'.repeat(1_000_000)); // 3 MB, larger than the first 1 MiB guess
  const frame = dropContentSize(await zstdCompress(input));
  assert.equal(zstdFrames(frame)[0]!.contentSize, undefined);
  assert.deepEqual(await zstdDecompress(frame, 8 << 20), input);
  await assert.rejects(zstdDecompress(frame, 2 << 20), (err: unknown) => err instanceof ProtocolError && /exceeds/.test(err.message));
});

/** A frame without a declared size made of `blocks` RLE blocks of 128 KiB each: 4 bytes per block. */
function rleBomb(blocks: number): Uint8Array {
  const out = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3];
  for (let i = 0; i < blocks; i++) {
    const header = ((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    out.push(header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x61);
  }
  return new Uint8Array(out);
}

test('an RLE bomb without a declared size is refused from its block headers, without decompressing', async () => {
  const bomb = rleBomb(8192); // 32 KiB that would regenerate 1 GiB
  const t0 = performance.now();
  // A cap just under what it regenerates: found from the headers, not by decompressing 1 GiB.
  const cap = (1 << 30) - 1;
  await assert.rejects(zstdDecompress(bomb, cap), (err: unknown) => err instanceof ProtocolError && new RegExp(`exceeds the ${cap}-byte limit`).test(err.message));
  assert.ok(performance.now() - t0 < 200, `refused in ${(performance.now() - t0).toFixed(0)} ms`);
  // Within the cap the same construction decodes exactly.
  const small = await zstdDecompress(rleBomb(3), 4 << 20);
  assert.equal(small.length, 3 * 128 * 1024);
  assert.ok(small.every((b) => b === 0x61));
});

test('concatenated frames and skippable frames decode in order', async () => {
  const a = await zstdCompress(text('first;'));
  const b = await zstdCompress(text('second'));
  const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
  const out = await zstdDecompress(new Uint8Array([...a, ...skippable, ...b]), 100);
  assert.equal(new TextDecoder().decode(out), 'first;second');
});

test('garbage, truncated and corrupt input is a ProtocolError', async () => {
  await assert.rejects(zstdDecompress(text('not zstd at all'), 100), (err: unknown) => err instanceof ProtocolError && /not zstd/.test(err.message));
  await assert.rejects(zstdDecompress(new Uint8Array(0), 100), ProtocolError);
  const packed = await zstdCompress(text('hello hello hello hello hello hello'));
  for (let n = 1; n < packed.length; n++) {
    await assert.rejects(zstdDecompress(packed.subarray(0, n), 100), ProtocolError, `prefix ${n}`);
  }
  const corrupt = packed.slice();
  corrupt[corrupt.length - 3] ^= 0xff;
  await assert.rejects(zstdDecompress(corrupt, 100), ProtocolError);
});
