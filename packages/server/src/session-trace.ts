/**
 * A session's requests as a Chrome trace-event file (the JSON object format, which Perfetto
 * and chrome://tracing load): one track per request, grouped by the training run or sampler it
 * ran on, with nested spans
 *
 *   <kind>            submitted → result handed to the client (or finished, if never polled)
 *     queued          submitted → the engine started on it
 *     running         started → result written (instant event "result written" at its end)
 *     polled          result written → the poll that handed it over
 *
 * and counters on the session's own track: queue depth (queued, running) at every change, and
 * throughput (requests finished per second). Times are Unix epoch microseconds.
 */
import type { PollRecord } from './poll-log.js';
import type { FutureRow } from './store/rows.js';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'i' | 'C' | 'M';
  ts: number;
  pid: number;
  tid: number;
  dur?: number;
  cat?: string;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

export interface TraceExport {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: { session_id: string; exported_at: string; requests: number; truncated: boolean };
}

export interface TraceInput {
  sessionId: string;
  rows: FutureRow[];
  polls: (requestId: string) => PollRecord | null;
  now: number;
  truncated: boolean;
}

const SESSION_PID = 1;
const us = (ms: number) => Math.round(ms * 1000);

export function buildSessionTrace(input: TraceInput): TraceExport {
  const { rows, now } = input;
  const events: TraceEvent[] = [];
  const meta = (pid: number, tid: number, name: string, value: string, sortIndex?: number) => {
    events.push({ name, ph: 'M', ts: 0, pid, tid, args: { name: value } });
    if (sortIndex !== undefined) events.push({ name: name === 'process_name' ? 'process_sort_index' : 'thread_sort_index', ph: 'M', ts: 0, pid, tid, args: { sort_index: sortIndex } });
  };
  meta(SESSION_PID, 0, 'process_name', `session ${input.sessionId}`, 0);
  meta(SESSION_PID, 0, 'thread_name', 'counters');

  const pids = new Map<string, number>();
  const transitions: Array<[number, number, number]> = []; // [time, Δqueued, Δrunning]
  const finishes: number[] = [];
  rows.forEach((r, i) => {
    const group = r.model_id ?? r.queue_key ?? 'sampling';
    let pid = pids.get(group);
    if (pid === undefined) {
      pid = SESSION_PID + 1 + pids.size;
      pids.set(group, pid);
      meta(pid, 0, 'process_name', r.model_id ? `training run ${group}` : `sampler ${group}`, pid);
    }
    const tid = i + 1;
    meta(pid, tid, 'thread_name', r.seq_id !== null ? `${r.kind} #${r.seq_id}` : r.kind, tid);

    const created = r.created_at;
    const started = r.started_at;
    const finished = r.finished_at;
    const poll = input.polls(r.request_id);
    const delivered = finished !== null && poll?.deliveredAt != null ? Math.max(poll.deliveredAt, finished) : null;
    const end = delivered ?? finished ?? now;
    const span = (name: string, from: number, to: number, args?: Record<string, unknown>) =>
      events.push({ name, cat: name === r.kind ? 'request' : 'phase', ph: 'X', ts: us(from), dur: Math.max(0, us(to) - us(from)), pid, tid, ...(args ? { args } : {}) });

    span(r.kind, created, end, {
      request_id: r.request_id,
      seq_id: r.seq_id,
      state: r.state,
      ...(r.category ? { category: r.category } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(poll ? { polls: poll.polls } : {}),
    });
    const queuedUntil = started ?? finished ?? now;
    span('queued', created, queuedUntil);
    transitions.push([created, 1, 0], [queuedUntil, -1, 0]);
    if (started !== null) {
      const runEnd = finished ?? now;
      span('running', started, runEnd);
      transitions.push([started, 0, 1], [runEnd, 0, -1]);
    }
    if (finished !== null) {
      events.push({ name: 'result written', cat: 'phase', ph: 'i', s: 't', ts: us(finished), pid, tid, args: { state: r.state } });
      finishes.push(finished);
    }
    if (finished !== null && delivered !== null && poll) {
      span('polled', finished, delivered, { polls: poll.polls, first_poll_after_submit_ms: poll.firstPollAt - created });
    }
  });

  // Queue depth at every change (simultaneous changes folded into one sample).
  transitions.sort((a, b) => a[0] - b[0]);
  let queued = 0;
  let running = 0;
  for (let i = 0; i < transitions.length; i++) {
    const [t, dq, dr] = transitions[i]!;
    queued += dq;
    running += dr;
    if (i + 1 < transitions.length && transitions[i + 1]![0] === t) continue;
    events.push({ name: 'queue depth', ph: 'C', ts: us(t), pid: SESSION_PID, tid: 0, args: { queued, running } });
  }

  // Throughput in one-second buckets, from the first finish to the last (empty seconds count 0).
  if (finishes.length > 0) {
    finishes.sort((a, b) => a - b);
    const first = Math.floor(finishes[0]! / 1000) * 1000;
    const buckets = new Map<number, number>();
    for (const f of finishes) {
      const b = Math.floor(f / 1000) * 1000;
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    const last = Math.floor(finishes[finishes.length - 1]! / 1000) * 1000;
    for (let b = first; b <= last + 1000; b += 1000) {
      events.push({ name: 'throughput', ph: 'C', ts: us(b), pid: SESSION_PID, tid: 0, args: { requests_per_s: buckets.get(b) ?? 0 } });
    }
  }

  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: { session_id: input.sessionId, exported_at: new Date(now).toISOString(), requests: rows.length, truncated: input.truncated },
  };
}
