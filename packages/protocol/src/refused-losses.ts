// Loss names of hosted Tinker that this implementation refuses by name, with the reason, so a
// request naming one gets a 4xx that says why instead of "expected one of …".
export const REFUSED_LOSS_FNS: Readonly<Record<string, string>> = Object.freeze({
  stable_reinforce:
    '"stable_reinforce" is an alpha loss_fn of hosted Tinker whose formula is unpublished; it is not implemented ' +
    'here rather than guessed. For off-policy RL use "importance_sampling", "ppo" or "cispo", or a custom loss.',
});

/** Why `lossFn` is refused, when it is one of REFUSED_LOSS_FNS. */
export function refusedLossReason(lossFn: unknown): string | undefined {
  return typeof lossFn === 'string' && Object.hasOwn(REFUSED_LOSS_FNS, lossFn) ? REFUSED_LOSS_FNS[lossFn] : undefined;
}
