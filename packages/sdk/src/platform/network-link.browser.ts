// In a browser the network side runs on the caller's thread over the page's fetch: `await` works,
// a blocking result() refuses at once (a page's thread cannot wait for its own network).
import { InlineNetworkLink } from '../runtime/inline-network-link.js';
import type { FromNetwork } from '../runtime/messages.js';
import type { NetworkLink } from '../runtime/network-link.js';
import type { NetworkSettings } from '../runtime/options.js';
import { fetchTransport } from '../runtime/transport.js';

const BROWSER_CANNOT_BLOCK =
  'result() cannot block in a browser: the network runs on this thread, which a blocking wait would stop. Use `await future` (or resultAsync()) instead.';

export function startNetworkLink(settings: NetworkSettings, dispatch: (msg: FromNetwork) => void): NetworkLink {
  return new InlineNetworkLink(settings, fetchTransport((input, init) => globalThis.fetch(input, init)), dispatch, BROWSER_CANNOT_BLOCK);
}
