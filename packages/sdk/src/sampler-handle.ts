// A sampler handle: a string that names one sampling session (and the server it lives on), to
// hand to another process or worker, which joins the session with its own credentials
// (join_sampling_session) instead of opening a new one. It carries no key or token.
import { base64ToBytes, bytesToBase64 } from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';

const PREFIX = 'tinker-sampler:v1:';

export interface SamplerHandle {
  samplingSessionId: string;
  /** The server's address when the handle was made, if it was known. */
  baseURL?: string | undefined;
}

export function encodeSamplerHandle(h: SamplerHandle): string {
  const json = JSON.stringify({ sampling_session_id: h.samplingSessionId, ...(h.baseURL ? { base_url: h.baseURL } : {}) });
  const b64 = bytesToBase64(new TextEncoder().encode(json));
  return PREFIX + b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeSamplerHandle(handle: unknown): SamplerHandle {
  const bad = (why: string) => new ValidationError(`sampler handle: ${why} (expected the string getSamplerHandle() returns)`, { field: 'handle' });
  if (typeof handle !== 'string' || !handle.startsWith(PREFIX)) throw bad('not a tinker-ts sampler handle');
  let parsed: unknown;
  try {
    const b64 = handle.slice(PREFIX.length).replace(/-/g, '+').replace(/_/g, '/');
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64ToBytes(b64 + '='.repeat((4 - (b64.length % 4)) % 4))));
  } catch {
    throw bad('its contents do not decode');
  }
  const o = parsed as { sampling_session_id?: unknown; base_url?: unknown } | null;
  if (typeof o?.sampling_session_id !== 'string' || o.sampling_session_id.length === 0) throw bad('it names no sampling session');
  if (o.base_url !== undefined && typeof o.base_url !== 'string') throw bad('its server address is not a string');
  return { samplingSessionId: o.sampling_session_id, baseURL: o.base_url };
}
