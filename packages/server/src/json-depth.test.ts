import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonDepthScanner } from './json-depth.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const depthOk = (text: string, max: number, chunk = text.length) => {
  const scanner = new JsonDepthScanner(max);
  const b = bytes(text);
  for (let i = 0; i < b.length; i += chunk) if (!scanner.feed(b.subarray(i, i + chunk))) return false;
  return true;
};

test('nesting is counted across objects and arrays, and up to the limit is fine', () => {
  assert.equal(depthOk('{"a": [[1, {"b": 2}]]}', 4), true);
  assert.equal(depthOk('{"a": [[1, {"b": 2}]]}', 3), false);
  assert.equal(depthOk('[1, 2], [3]', 1), true, 'siblings do not add up');
});

test('brackets inside strings, and escaped quotes, do not count', () => {
  assert.equal(depthOk('{"s": "[[[[{{{{"}', 1), true);
  assert.equal(depthOk('{"s": "a\\"[[[[", "t": "\\\\"}', 1), true);
  assert.equal(depthOk('{"s": "\\\\", "t": [[]]}', 2), false, 'an escaped backslash ends the escape');
});

test('the scan carries its state across chunks split anywhere', () => {
  const text = `{"ttl_seconds": ${'['.repeat(100)}${']'.repeat(100)}, "s": "x\\"[[["}`;
  for (const chunk of [1, 2, 3, 7, 64]) {
    assert.equal(depthOk(text, 101, chunk), true, `chunk ${chunk}`);
    assert.equal(depthOk(text, 100, chunk), false, `chunk ${chunk}`);
  }
});
