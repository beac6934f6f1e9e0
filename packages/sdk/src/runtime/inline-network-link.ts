// The network side on the caller's own thread: used when a custom fetch is injected, and in
// browsers (no worker that could block). Nothing can wait synchronously for the network here, so
// result() refuses at once with `cannotBlock` and `await` is the way.
import type { Blocker } from '../future.js';
import type { FromNetwork, ToNetwork } from './messages.js';
import { NetworkCore } from './network-core.js';
import type { NetworkLink } from './network-link.js';
import type { NetworkSettings } from './options.js';
import type { HttpTransport } from './transport.js';

export class InlineNetworkLink implements NetworkLink {
  private readonly core: NetworkCore;
  readonly blocker: Blocker;

  constructor(settings: NetworkSettings, transport: HttpTransport, dispatch: (msg: FromNetwork) => void, cannotBlock: string) {
    this.blocker = { poll() {}, waitForProgress() {}, unsupportedReason: cannotBlock };
    this.core = new NetworkCore(settings, transport, dispatch);
  }

  post(msg: ToNetwork): void {
    this.core.handle(msg);
  }

  setActive(): void {}

  async terminate(): Promise<void> {}
}
