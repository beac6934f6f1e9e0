// A training model's requests reach the server in the order they were called, whatever the
// network does to them on the way. Some Tinker-compatible servers run a model's requests in the
// order they *receive* them rather than by seq_id, so a pipelined optim_step (small JSON) must not
// overtake the forward_backward (large protobuf) it follows. As in the official SDK, a request's
// turn ends when the server has acknowledged it (answered with a request_id, or given up on), not
// when it is sent: the next request starts as soon as the previous one is accepted, not when it
// completes, so pipelining is kept.
//
// Each training client numbers its requests 0, 1, 2, … in call order (its "turns") and sends each
// with `waitFor`: the number of earlier acknowledgements it must see first. A request that is its
// own turn waits for its number; the chunks of one forward_backward sent in parallel share a range
// and wait for its first number, except the batch's first chunk, which waits for the others (the
// official SDK sends it last, so a seq_id-ordered server can take the whole batch at once).

/** Where one request stands in its model's order. Plain data: it crosses to the network thread. */
export interface ModelTurn {
  /** One lane per training client. */
  lane: string;
  /** Acknowledgements of earlier requests of the lane to wait for. */
  waitFor: number;
}

interface Lane {
  acknowledged: number;
  waiters: Map<number, Array<() => void>>;
}

export class ModelTurns {
  private readonly lanes = new Map<string, Lane>();

  /** Resolves once `turn.waitFor` requests of its lane have been acknowledged. */
  wait(turn: ModelTurn): Promise<void> {
    const lane = this.lane(turn.lane);
    if (lane.acknowledged >= turn.waitFor) return Promise.resolve();
    return new Promise((resolve) => {
      const list = lane.waiters.get(turn.waitFor);
      if (list) list.push(resolve);
      else lane.waiters.set(turn.waitFor, [resolve]);
    });
  }

  /** One request of the lane was acknowledged (or will never be sent): let the next ones go. */
  acknowledge(laneId: string): void {
    const lane = this.lane(laneId);
    lane.acknowledged++;
    const ready = lane.waiters.get(lane.acknowledged);
    if (!ready) return;
    lane.waiters.delete(lane.acknowledged);
    for (const resolve of ready) resolve();
  }

  private lane(id: string): Lane {
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = { acknowledged: 0, waiters: new Map() };
      this.lanes.set(id, lane);
    }
    return lane;
  }
}

/**
 * The turns of one batch of forward_backward chunks numbered from `first`: in parallel, every
 * chunk but the first waits for `first`, and the first waits for all the others; serially, each
 * waits for its own number.
 */
export function chunkTurns(first: number, chunkCount: number, parallel: boolean): number[] {
  return Array.from({ length: chunkCount }, (_, i) => {
    if (!parallel) return first + i;
    return i === 0 ? first + chunkCount - 1 : first;
  });
}
