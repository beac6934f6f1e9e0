/**
 * EngineHost niceness: the engine's threads run at the niceness asked for, the caller's thread
 * keeps its own. A file of its own: OpenBLAS starts its threads once per process, when the first
 * engine loads it, so an earlier host in the same process would already have started them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { EngineHost } from './engine-host.js';

/** Niceness of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNiceness(): number[] {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // the thread exited meanwhile
    }
  });
}

test('niceness applies to the engine worker and the compute threads it starts, not to the caller', { skip: process.platform !== 'linux', timeout: 120_000 }, async () => {
  const niceBefore = threadNiceness().filter((n) => n === 7).length;
  const host = await EngineHost.start({ niceness: 7 });
  try {
    // OpenBLAS starts its helper threads when the worker loads the native addon.
    assert.ok((await host.listModels()).length > 0);
    const nice = threadNiceness();
    // The worker itself, plus (with more than one core) OpenBLAS's helper threads.
    const expected = niceBefore + (os.cpus().length > 1 ? 2 : 1);
    assert.ok(nice.filter((n) => n === 7).length >= expected, `at least ${expected} threads at niceness 7: ${nice.join(',')}`);
    assert.equal(os.getPriority(0), 0, 'the calling thread keeps its niceness');
    assert.equal(os.getPriority(), 0, 'the process as a whole is not reniced');
  } finally {
    await host.close();
  }
});
