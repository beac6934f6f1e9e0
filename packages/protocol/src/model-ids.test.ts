import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from './errors.js';
import { deprecationNotice, formatModelId, parseModelId, retirementOf } from './model-ids.js';

test('a base model id has no suffixes', () => {
  assert.deepEqual(parseModelId('Qwen/Qwen3-8B'), { id: 'Qwen/Qwen3-8B', base: 'Qwen/Qwen3-8B', peftContext: null, samplingOnly: false });
});

test(':peft:<ctx> names a variant with that context length; :sampling-nvfp4 marks sampling only', () => {
  assert.deepEqual(parseModelId('openai/gpt-oss-120b:peft:131072'), {
    id: 'openai/gpt-oss-120b:peft:131072', base: 'openai/gpt-oss-120b', peftContext: 131072, samplingOnly: false,
  });
  const s = parseModelId('thinkingmachines/Inkling-Small:peft:262144:sampling-nvfp4');
  assert.equal(s.base, 'thinkingmachines/Inkling-Small');
  assert.equal(s.peftContext, 262144);
  assert.equal(s.samplingOnly, true);
  assert.equal(formatModelId(s), s.id);
  assert.equal(parseModelId('x/y:sampling-nvfp4').samplingOnly, true);
});

test('malformed suffixes are refused with a message naming the id and the field', () => {
  const cases: Array<[string, RegExp]> = [
    ['x/y:peft', /":peft" must be followed by ":<context length>"/],
    ['x/y:peft:', /must be a positive integer/],
    ['x/y:peft:abc', /must be a positive integer.*"abc"/],
    ['x/y:peft:0', /must be a positive integer/],
    ['x/y:peft:-5', /must be a positive integer/],
    ['x/y:peft:1e5', /must be a positive integer/],
    ['x/y:peft:99999999999', /beyond any model/],
    ['x/y:sampling-nvfp4:peft:4096', /unknown model id suffix ":sampling-nvfp4".*\[:peft:<context>\]\[:sampling-nvfp4\]/],
    ['x/y:fp8', /unknown model id suffix ":fp8"/],
    [':peft:4096', /base model name before the suffix is missing/],
    ['', /non-empty/],
  ];
  for (const [id, message] of cases) {
    assert.throws(() => parseModelId(id, 'model'), (e: unknown) => {
      assert.ok(e instanceof ValidationError, `${id}: ${String(e)}`);
      assert.equal(e.category, 'user');
      assert.equal(e.field, 'model');
      assert.match(e.message, message, id);
      return true;
    });
  }
});

test('retired hosted names carry a deprecation notice naming a replacement; current ones none', () => {
  assert.equal(retirementOf('meta-llama/Llama-3.2-1B')?.retired, '2026-06-12');
  assert.equal(retirementOf('Qwen/Qwen3-32B')?.replacement, 'Qwen/Qwen3.6-27B');
  assert.equal(retirementOf('moonshotai/Kimi-K2.5:peft:131072')?.retired, '2026-07-12');
  assert.match(deprecationNotice('meta-llama/Llama-3.1-8B-Instruct')!, /retired by hosted Tinker on 2026-06-12.*use Qwen\/Qwen3-8B/);
  for (const current of ['Qwen/Qwen3-8B', 'Qwen/Qwen3.5-4B', 'Qwen/Qwen3.5-35B-A3B-Base', 'moonshotai/Kimi-K2.6:peft:131072', 'thinkingmachines/Inkling']) {
    assert.equal(deprecationNotice(current), null, current);
  }
});
