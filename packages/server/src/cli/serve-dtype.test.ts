import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '@tinker-ts/protocol/cli-args';
import { parseDtypeOptions } from './serve.js';

test('--dtype NAME=bf16|f32 gives each named model its weight dtype; anything else is a usage error', () => {
  assert.deepEqual(parseDtypeOptions(['acme/tiny=bf16', 'Qwen/Qwen3-8B=f32']), { 'acme/tiny': 'bf16', 'Qwen/Qwen3-8B': 'f32' });
  assert.deepEqual(parseDtypeOptions([]), {});
  assert.throws(() => parseDtypeOptions(['bf16']), (e: unknown) => e instanceof UsageError && /--dtype must be NAME=bf16 or NAME=f32, got "bf16"/.test(e.message));
  assert.throws(() => parseDtypeOptions(['m=fp16']), (e: unknown) => e instanceof UsageError && /--dtype m: unsupported dtype "fp16" \(expected bf16 or f32\)/.test(e.message));
  assert.throws(() => parseDtypeOptions(['m=']), /unsupported dtype ""/);
});
