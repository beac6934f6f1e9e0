// Requests leave in the order they were called, even when one of them needs an async step (zstd,
// a JWT refresh) before it can be sent: each call takes a place in line when it arrives and starts
// its first attempt only after every earlier call has started its own (or given up).
export interface SendSlot {
  /** Resolves when every earlier slot has been released. */
  turn: Promise<void>;
  /** Lets the next slot go; call it right after starting the send (or on failure). Idempotent. */
  release(): void;
}

export class SendOrder {
  private tail: Promise<void> = Promise.resolve();

  reserve(): SendSlot {
    const turn = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    return { turn, release };
  }
}
