/**
 * The request thread alone on its cores. With `engineCpus` the engine process computes on those
 * CPUs; isolateRequestThread moves the server process's own background threads there too (V8's
 * compiler and garbage-collector helpers, libuv's file-system pool, the WAL checkpoint thread)
 * and keeps the thread that answers requests on the CPUs left over, by itself.
 *
 * Why: a woken thread whose core is busy waits until the scheduler preempts whatever runs there.
 * On a 250 Hz kernel that wait reached 2–5 ms, behind threads of lower priority and SCHED_IDLE
 * ones alike. Once the engine had cores of its own, what the request thread still waited behind
 * was mostly this process's helpers: V8 optimising hot functions, a WAL checkpoint. Priorities do
 * not bound that wait; a core with nothing else on it does (server bench: p99 time inside the
 * server under 64 clients 3.5–4.3 ms → 0.6–1.1 ms with the clients' process off that core).
 *
 * Linux only (taskset and /proc). Must run on the main thread; threads it starts later inherit
 * its CPUs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/** CPU numbers from here on are refused (a common CONFIG_NR_CPUS): a range such as 0-999999999 is not expanded. */
const MAX_CPUS = 4096;

export interface RequestThreadPlacement {
  /** CPUs the request (main) thread runs on, alone. */
  requestCpus: number[];
  /** CPUs of every other thread of this process: the engine's. */
  backgroundCpus: number[];
  /** Puts every thread back on the CPUs the process had before. */
  restore(): void;
}

/**
 * A CPU list as the kernel and taskset write it: numbers and ranges, comma-separated ("0-3,8");
 * null when the text is not one.
 */
export function parseCpuList(text: string): number[] | null {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const from = m ? Number(m[1]) : NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || to < from || to >= MAX_CPUS) return null;
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus];
}

/**
 * Which CPUs the request thread keeps: those this process may use that the engine does not. The
 * background threads go to the engine's CPUs this process may use. A string says why there is
 * nothing to split.
 */
export function splitCpus(allowed: readonly number[], engineCpus: readonly number[]): { requestCpus: number[]; backgroundCpus: number[] } | string {
  const engine = new Set(engineCpus);
  const requestCpus = allowed.filter((c) => !engine.has(c));
  const backgroundCpus = allowed.filter((c) => engine.has(c));
  if (requestCpus.length === 0) return `the engine uses every CPU this process may run on (${allowed.join(',')})`;
  if (backgroundCpus.length === 0) return `none of the engine's CPUs (${engineCpus.join(',')}) is one this process may run on (${allowed.join(',')})`;
  return { requestCpus, backgroundCpus };
}

/**
 * Moves this process's threads as described above. Returns the placement, or why it was left as
 * it was (not Linux, no taskset, not the main thread, nothing to split, taskset refused).
 */
export async function isolateRequestThread(engineCpus: readonly number[]): Promise<RequestThreadPlacement | string> {
  if (process.platform !== 'linux') return 'CPU placement of threads needs Linux';
  if (!isMainThread) return 'only the main thread can place the request thread';
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((p) => fs.existsSync(p));
  if (!taskset) return 'this system has no taskset program';
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const allowedText = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  const allowed = allowedText ? parseCpuList(allowedText) : null;
  if (!allowed) return 'the kernel does not report which CPUs this process may use';
  const split = splitCpus(allowed, engineCpus);
  if (typeof split === 'string') return split;

  // libuv starts its file-system threads on first use: make sure they exist, so they are moved too.
  await fs.promises.stat(process.execPath);
  const pin = (cpus: readonly number[], allThreads: boolean): string | null => {
    const r = spawnSync(taskset, [...(allThreads ? ['-a'] : []), '-p', '-c', cpus.join(','), String(process.pid)], { encoding: 'utf8' });
    return r.status === 0 ? null : (r.stderr || r.error?.message || `taskset exited with ${r.status}`).trim();
  };
  // Every thread to the engine's CPUs, then the main thread (whose id is the process id) back.
  const failed = pin(split.backgroundCpus, true) ?? pin(split.requestCpus, false);
  const restore = () => void pin(allowed, true);
  if (failed) {
    restore();
    return `taskset failed: ${failed}`;
  }
  return { ...split, restore };
}
