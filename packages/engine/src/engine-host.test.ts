import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { ENGINE_V8_FLAGS, EngineHost, EngineWorkerError, type EngineExit } from './engine-host.js';
import { EngineUserError } from './errors.js';

const MODEL = 'tinker-ts/tiny-llama3';
const datum = {
  model_input: { chunks: [{ type: 'encoded_text' as const, tokens: [128000, 791, 4062, 14198] }] },
  loss_fn_inputs: {
    target_tokens: { data: [791, 4062, 14198, 39935], dtype: 'int64' as const, shape: [4] },
    weights: { data: [1, 1, 1, 1], dtype: 'float32' as const, shape: [4] },
  },
};

test('EngineHost runs the engine in a child process, keeps the event loop free and propagates EngineUserError', { timeout: 120_000 }, async () => {
  const host = await EngineHost.start();
  try {
    assert.match(host.coreName, /\w+/);
    const models = await host.listModels();
    assert.ok(models.some((m) => m.model_name === MODEL && m.stand_in));
    await host.createAdapter('m', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: false });
    // Several queued calls: the main thread's timers keep firing while they run.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const calls = [1, 2, 3].map(() => host.forwardBackward('m', [datum], 'cross_entropy', null, false));
    assert.equal(host.queueLength, 2);
    const outs = await Promise.all(calls).finally(() => clearInterval(timer));
    assert.ok(ticks > 0, 'event loop was blocked');
    assert.equal(outs[0].loss_fn_outputs[0].logprobs.data.length, 4);
    assert.ok(outs[0].metrics['loss:sum'] > 0);
    const step = await host.optimStep('m', { learning_rate: 1e-3 });
    assert.equal(step.metrics['step:max'], 1);
    assert.equal((await host.adapterInfo('m')).step, 1);

    await assert.rejects(host.forwardBackward('m', [datum], 'bogus_loss', null, false),
      (e: Error) => e instanceof EngineUserError && /unknown loss function/.test(e.message));
    await assert.rejects(host.adapterInfo('missing'), (e: Error) => e instanceof EngineUserError);
    const sample = await host.sample({ baseModel: MODEL, adapterId: 'm' },
      { prompt: [128000, 791], num_samples: 2, sampling_params: { max_tokens: 3, seed: 4 }, prompt_logprobs: true, topk_prompt_logprobs: 0 });
    assert.equal(sample.sequences.length, 2);
    assert.deepEqual(sample.prompt_logprobs!.length, 2);
    const files = await host.tokenizerFiles(MODEL);
    assert.match(files.tokenizerJson, /tokenizer\.json$/);
  } finally {
    await host.close();
  }
  await assert.rejects(host.listModels(), EngineWorkerError);
});

test('EngineHost.start fails clearly when the engine cannot be built', { timeout: 60_000 }, async () => {
  await assert.rejects(EngineHost.start({ models: { broken: '/nonexistent/model/dir' } }),
    (e: Error) => e instanceof EngineUserError && /config\.json/.test(e.message));
});


/** Niceness of every thread of a process (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNiceness(pid: number | 'self'): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // the thread exited meanwhile
    }
  });
}

test('niceness applies to every thread of the engine process and to none of the caller', { skip: process.platform !== 'linux', timeout: 120_000 }, async () => {
  const host = await EngineHost.start({ niceness: 7 });
  try {
    await host.createAdapter('m', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: false });
    await host.forwardBackward('m', [datum], 'cross_entropy', null, false); // starts the compute threads
    const engineThreads = threadNiceness(host.pid!);
    // Its JavaScript thread, V8's helper threads, OpenBLAS's and the task pool's.
    assert.ok(engineThreads.length >= 4, `engine threads: ${engineThreads.join(',')}`);
    assert.ok(engineThreads.every((n) => n === 7), `engine thread niceness: ${engineThreads.join(',')}`);
    assert.ok(threadNiceness('self').every((n) => n === 0), 'the caller keeps its niceness');
    // Garbage collection on the engine's own thread, not on helpers that would take other cores.
    const argv = fs.readFileSync(`/proc/${host.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of ENGINE_V8_FLAGS) assert.ok(argv.includes(flag), `engine command line: ${argv.join(' ')}`);
  } finally {
    await host.close();
  }
});

/** CPUs each thread of a process may run on (Cpus_allowed_list of /proc/<pid>/task/<tid>/status). */
function threadCpus(pid: number | 'self'): string[] {
  return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      return [/Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1]!];
    } catch {
      return [];
    }
  });
}

test('cpus confine every thread of the engine process, which computes with one thread per CPU it may use', { skip: process.platform !== 'linux', timeout: 120_000 }, async () => {
  const last = os.cpus().length - 1;
  const callerBefore = threadCpus('self');
  const host = await EngineHost.start({ cpus: [last], niceness: 5 });
  try {
    assert.equal(host.computeThreads, 1);
    await host.createAdapter('m', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: false });
    const out = await host.forwardBackward('m', [datum], 'cross_entropy', null, false);
    assert.ok(Number.isFinite(out.metrics['loss:sum']));
    const engineThreads = threadCpus(host.pid!);
    assert.ok(engineThreads.length >= 4, `engine threads: ${engineThreads.join(' ')}`);
    assert.ok(engineThreads.every((c) => c === String(last)), `engine thread CPUs: ${engineThreads.join(' ')}`);
    assert.ok(threadNiceness(host.pid!).every((n) => n === 5), 'niceness still applies');
    assert.deepEqual(threadCpus('self'), callerBefore, 'the caller keeps its CPUs');
  } finally {
    await host.close();
  }
  if (!process.env.OPENBLAS_NUM_THREADS && !process.env.OMP_NUM_THREADS) {
    const all = await EngineHost.start();
    try {
      assert.equal(all.computeThreads, os.availableParallelism(), 'without cpus, one compute thread per CPU');
    } finally {
      await all.close();
    }
  }
  await assert.rejects(EngineHost.start({ cpus: [] }), (e: Error) => e instanceof EngineUserError && /non-empty list of CPU numbers/.test(e.message));
  await assert.rejects(EngineHost.start({ cpus: [-1] }), EngineUserError);
  await assert.rejects(EngineHost.start({ cpus: [os.cpus().length] }), (e: Error) => e instanceof EngineUserError && /do not exist: this machine has CPUs 0-/.test(e.message));
});

test('an engine process that dies fails the calls waiting on it, and the host says so', { timeout: 120_000 }, async () => {
  const host = await EngineHost.start();
  await host.createAdapter('m', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: false });
  const calls = [1, 2, 3].map(() => host.forwardBackward('m', [datum], 'cross_entropy', null, false));
  process.kill(host.pid!, 'SIGKILL');
  for (const c of calls) await assert.rejects(c, (e: Error) => e instanceof EngineWorkerError && /engine process was killed by SIGKILL|engine process is gone/.test(e.message));
  await assert.rejects(host.listModels(), EngineWorkerError);
  await host.close();
});

test('an engine process that ends is reported once, with how it ended and its last stderr lines', { timeout: 120_000 }, async () => {
  const host = await EngineHost.start();
  const exits: EngineExit[] = [];
  host.onExit((e) => exits.push(e));
  // The first load of a stand-in writes a notice to the engine's stderr.
  await host.createAdapter('m', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: false });
  assert.equal(host.alive, true);
  const pending = host.forwardBackward('m', [datum], 'cross_entropy', null, false);
  process.kill(host.pid!, 'SIGKILL');
  await assert.rejects(pending, EngineWorkerError);
  assert.equal(host.alive, false);
  assert.equal(exits.length, 1);
  assert.deepEqual([exits[0]!.signal, exits[0]!.description, exits[0]!.expected], ['SIGKILL', 'was killed by SIGKILL', false]);
  assert.ok(exits[0]!.lastStderr.some((l) => l.includes('is a stand-in')), exits[0]!.lastStderr.join('\n'));

  const closing = await EngineHost.start();
  const closed: EngineExit[] = [];
  closing.onExit((e) => closed.push(e));
  await closing.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(closed.map((e) => e.expected), [true]);
});
