import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readConversations, readPreferencePairs, readProblems, readPrompts } from './jsonl-data.js';

const dir = mkdtempSync(join(tmpdir(), 'jsonl-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(...lines: string[]): string {
  const p = join(dir, `f${n++}.jsonl`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

test('each reader takes its documented shapes', () => {
  assert.deepEqual(readConversations(file('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}', '')), [
    [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }],
  ]);
  assert.deepEqual(readPreferencePairs(file('{"prompt":"q","chosen":"a","rejected":{"role":"assistant","content":"b"}}')), [
    { prompt: [{ role: 'user', content: 'q' }], chosen: { role: 'assistant', content: 'a' }, rejected: { role: 'assistant', content: 'b' } },
  ]);
  assert.deepEqual(readProblems(file('{"prompt":"2+2?","answer":"4"}', '{"messages":[{"role":"user","content":"1+1?"},{"role":"assistant","content":"2"}]}')), [
    { prompt: [{ role: 'user', content: '2+2?' }], answer: '4' },
    { prompt: [{ role: 'user', content: '1+1?' }], answer: '2' },
  ]);
  assert.deepEqual(readPrompts(file('{"prompt":"x"}', '{"messages":[{"role":"user","content":"y"},{"role":"assistant","content":"z"}]}')), [
    [{ role: 'user', content: 'x' }],
    [{ role: 'user', content: 'y' }],
  ]);
});

test('malformed lines are refused with their line number', () => {
  assert.throws(() => readConversations(file('{"messages":[]}')), /line 1: expected \{"messages": \[...\]\} with at least two messages/);
  assert.throws(() => readConversations(file('', 'not json')), /line 2: not valid JSON/);
  assert.throws(() => readConversations(file('{"messages":[{"role":"robot","content":"x"},{"role":"assistant","content":"y"}]}')), /line 1: a message needs a role/);
  assert.throws(() => readPreferencePairs(file('{"prompt":"q","chosen":"a"}')), /line 1: missing "rejected"/);
  assert.throws(() => readPreferencePairs(file('{"prompt":"q","chosen":{"role":"user","content":"a"},"rejected":"b"}')), /"chosen" must be the assistant's reply/);
  assert.throws(() => readProblems(file('{"prompt":"q","answer":4}')), /line 1: expected \{"prompt", "answer"\} with a string answer/);
});
