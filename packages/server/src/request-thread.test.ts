/**
 * The request thread alone on the CPUs the engine leaves: which CPUs go where, every thread of a
 * real process moved (a worker thread and libuv's pool included) and put back, and
 * `tinker-ts serve --engine-cpus` doing it for the server process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCpuList, splitCpus } from './request-thread.js';

const MODULE = fileURLToPath(new URL('./request-thread.js', import.meta.url));
const CLI = fileURLToPath(new URL('./cli/main.js', import.meta.url));

/** The CPUs this process may use, as the kernel lists them. */
const allowed = process.platform === 'linux' ? parseCpuList(/^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!)! : [];
const canSplit = allowed.length >= 2 && ['/usr/bin/taskset', '/bin/taskset'].some((p) => fs.existsSync(p));
const skipSplit = canSplit ? false : 'needs Linux, taskset and two CPUs';

/** Cpus_allowed_list of every thread of `pid`, by thread id. */
function threadCpus(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1]!);
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

test('CPU lists parse as the kernel and taskset write them', () => {
  assert.deepEqual(parseCpuList('0-3,8'), [0, 1, 2, 3, 8]);
  assert.deepEqual(parseCpuList('5\n'), [5]);
  assert.deepEqual(parseCpuList('1,1-2'), [1, 2]);
  for (const bad of ['', ',', '1-', '-1', '2-1', 'a', '1.5', '0-4096']) assert.equal(parseCpuList(bad), null, bad);
});

test('the request thread keeps the CPUs the engine does not use', () => {
  assert.deepEqual(splitCpus([0, 1, 2, 3], [2, 3]), { requestCpus: [0, 1], backgroundCpus: [2, 3] });
  assert.deepEqual(splitCpus([0, 1], [1, 7]), { requestCpus: [0], backgroundCpus: [1] });
  assert.match(splitCpus([0, 1], [0, 1]) as string, /engine uses every CPU this process may run on \(0,1\)/);
  assert.match(splitCpus([2, 3], [0, 1]) as string, /none of the engine's CPUs \(0,1\) is one this process may run on/);
});

test('every other thread moves to the engine CPUs, the main thread stays on the rest, restore() puts them back', { skip: skipSplit, timeout: 30_000 }, async () => {
  const engineCpu = allowed[allowed.length - 1]!;
  const requestCpus = allowed.filter((c) => c !== engineCpu).join(',');
  // A child process, so this test runner's own threads stay where they are. It has a worker
  // thread running, as a server has its WAL checkpoint thread.
  const script = `
    import fs from 'node:fs';
    import { Worker } from 'node:worker_threads';
    import { isolateRequestThread } from ${JSON.stringify(MODULE)};
    const cpus = () => Object.fromEntries(fs.readdirSync('/proc/self/task').map((t) =>
      [t, /^Cpus_allowed_list:\\s*(\\S+)/m.exec(fs.readFileSync('/proc/self/task/' + t + '/status', 'utf8'))[1]]));
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
    await new Promise((r) => worker.once('online', r));
    const placed = await isolateRequestThread([${engineCpu}]);
    const during = cpus();
    placed.restore();
    console.log(JSON.stringify({ pid: process.pid, placed, during, after: cpus() }));
    process.exit(0);
  `;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
  );
  const r = JSON.parse(stdout) as { pid: number; placed: { requestCpus: number[]; backgroundCpus: number[] }; during: Record<string, string>; after: Record<string, string> };
  assert.deepEqual(r.placed.backgroundCpus, [engineCpu]);
  assert.equal(r.placed.requestCpus.join(','), requestCpus);
  const threads = Object.keys(r.during);
  // The main thread, V8's helpers, libuv's pool and the worker's own threads: well over five.
  assert.ok(threads.length > 5, `only ${threads.length} threads`);
  for (const tid of threads) {
    const expected = Number(tid) === r.pid ? parseCpuList(requestCpus)! : [engineCpu];
    assert.deepEqual(parseCpuList(r.during[tid]!), expected, `thread ${tid} ${Number(tid) === r.pid ? '(main)' : ''}`);
  }
  for (const tid of Object.keys(r.after)) assert.deepEqual(parseCpuList(r.after[tid]!), allowed, `thread ${tid} after restore`);
});

test('tinker-ts serve --engine-cpus leaves the request thread alone on the other CPUs', { skip: skipSplit, timeout: 90_000 }, async () => {
  const engineCpu = allowed[allowed.length - 1]!;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-request-thread-'));
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--engine-cpus', String(engineCpu)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${log}`)));
    });
    // Answering a request also means its signal handlers are in place for the SIGTERM below.
    assert.equal((await fetch(`${url}/api/v1/healthz`)).status, 200);
    assert.match(log, new RegExp(`request thread alone on CPUs ${allowed.filter((c) => c !== engineCpu).join(',')}; the process's other threads on CPUs ${engineCpu}`));
    const threads = threadCpus(proc.pid!);
    assert.ok(threads.size > 5);
    for (const [tid, cpus] of threads) {
      assert.deepEqual(parseCpuList(cpus), tid === proc.pid ? allowed.filter((c) => c !== engineCpu) : [engineCpu], `thread ${tid}`);
    }
    proc.kill('SIGTERM');
    const [code, signal] = await once(proc, 'exit');
    assert.equal(code, 0, `exit ${code} ${signal}: ${log}`);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
