/**
 * API keys → users. With a configured key table only those keys are accepted; without one
 * (dev mode) any key with the official `tml-` prefix is accepted and is its own user, so two
 * different keys never see each other's models. A dev-mode user is named by a hash of its key,
 * so the key itself is never stored or shown (e.g. as a training run's `model_owner`).
 */
import { createHash } from 'node:crypto';
import type { Authenticator } from './router.js';

export const DEV_KEY_PREFIX = 'tml-';

export function devUserOf(apiKey: string): string {
  return `user-${createHash('sha256').update(apiKey).digest('hex').slice(0, 16)}`;
}

export function createAuthenticator(apiKeys?: Record<string, string>): Authenticator {
  if (apiKeys) {
    const table = new Map(Object.entries(apiKeys));
    return (key) => (key !== undefined ? table.get(key) ?? null : null);
  }
  return (key) =>
    key !== undefined && key.startsWith(DEV_KEY_PREFIX) && key.length > DEV_KEY_PREFIX.length ? devUserOf(key) : null;
}
