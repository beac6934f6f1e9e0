import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConversations } from './conversations.js';
import { INTENTS, INTENT_HELDOUT_FILE, INTENT_TRAIN_FILE, expectedIntent, gradeReply, intentReply, prefixCredit } from './intent-task.js';

test('gradeReply accepts exactly {"intent": <known intent>} and checks the intent', () => {
  assert.deepEqual(gradeReply('{"intent": "timer"}', 'timer'), { formatOk: true, correct: true });
  assert.deepEqual(gradeReply(' {"intent":"music"} ', 'timer'), { formatOk: true, correct: false });
  assert.deepEqual(gradeReply('{"intent": "dance"}', 'dance'), { formatOk: false, correct: false });
  assert.deepEqual(gradeReply('{"intent": "timer", "x": 1}', 'timer'), { formatOk: false, correct: false });
  assert.deepEqual(gradeReply('{"intent": "timer"', 'timer'), { formatOk: false, correct: false });
  assert.deepEqual(gradeReply('["timer"]', 'timer'), { formatOk: false, correct: false });
});

test('prefixCredit is the share of the reference reply right before the first mistake', () => {
  const ref = intentReply('music');
  assert.equal(prefixCredit(ref, 'music'), 1);
  assert.equal(prefixCredit('', 'music'), 0);
  assert.equal(prefixCredit('{"intent": "m', 'music'), '{"intent": "m'.length / ref.length);
  assert.equal(prefixCredit('{"intent": "weather"}', 'music'), '{"intent": "'.length / ref.length);
});

test('the shipped data covers every intent and the held-out set uses unseen requests', () => {
  const train = readConversations(INTENT_TRAIN_FILE);
  const heldOut = readConversations(INTENT_HELDOUT_FILE);
  for (const set of [train, heldOut]) {
    assert.deepEqual([...new Set(set.map(expectedIntent))].sort(), [...INTENTS].sort());
  }
  const trainRequests = new Set(train.map((c) => c.messages[0]!.content));
  assert.ok(heldOut.every((c) => !trainRequests.has(c.messages[0]!.content)));
});
