// How the caller's thread reaches the network side (NetworkCore): messages out, messages back,
// and a Blocker that lets result() wait for answers. The Runtime holds one.
import type { Blocker } from '../future.js';
import type { ToNetwork } from './messages.js';

export interface NetworkLink {
  post(msg: ToNetwork): void;
  readonly blocker: Blocker;
  /** Keep the process alive (futures are pending) or not. */
  setActive(active: boolean): void;
  terminate(): Promise<void>;
}
