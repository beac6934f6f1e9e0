// On Node (and Bun and Deno) the network side runs on its own worker thread, so result() can block.
import type { FromNetwork } from '../runtime/messages.js';
import type { NetworkLink } from '../runtime/network-link.js';
import type { NetworkSettings } from '../runtime/options.js';
import { WorkerNetworkLink } from '../runtime/worker-network-link.js';

/** `blockedReason` says why result() must not block now (undefined: it may). */
export function startNetworkLink(settings: NetworkSettings, dispatch: (msg: FromNetwork) => void, blockedReason: () => string | undefined): NetworkLink {
  return new WorkerNetworkLink(settings, dispatch, blockedReason);
}
