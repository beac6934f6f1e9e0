// A server session: created once (create_session), then kept alive by a heartbeat every 10 s.
// Heartbeats run on the network thread's timers, so they keep flowing however busy the caller is.
import { TINKER_WIRE_VERSION, type CreateSessionResponse } from '@tinker-ts/protocol';
import { environment } from '#environment';
import { jsonCall, type Connection } from './bootstrap.js';
import type { NetworkSettings } from './options.js';
import { unrefTimer } from './unref-timer.js';

export interface SessionHooks {
  settings: NetworkSettings;
  warn(msg: string): void;
  info(msg: string): void;
  withRetries<T>(fn: () => Promise<T>): Promise<T>;
}

export class Session {
  private timer: NodeJS.Timeout | undefined;
  private lastSuccessAt = Date.now();
  private inFlight = false;
  /** Heartbeats that succeeded; tests and diagnostics read it. */
  heartbeats = 0;

  private constructor(readonly id: string, private readonly conn: Connection, private readonly hooks: SessionHooks) {}

  static async create(conn: Connection, hooks: SessionHooks): Promise<Session> {
    const { settings } = hooks;
    const envTags = environment.variable('TINKER_TAGS');
    const tags = settings.tags ?? (envTags ? [...new Set(envTags.split(',').filter(Boolean))] : []);
    const body = {
      tags,
      user_metadata: settings.userMetadata ?? {},
      sdk_version: TINKER_WIRE_VERSION,
      project_id: settings.projectId ?? environment.variable('TINKER_PROJECT_ID') ?? null,
      type: 'create_session',
    };
    const res = await hooks.withRetries(() =>
      jsonCall<CreateSessionResponse>(conn.http, { method: 'POST', path: 'create_session', body }, settings.attemptTimeoutMs),
    );
    if (typeof res?.session_id !== 'string') throw new Error('create_session answered without a session_id');
    if (res.info_message) hooks.info(res.info_message);
    if (res.warning_message) hooks.warn(res.warning_message);
    if (res.error_message) hooks.warn(res.error_message);
    const session = new Session(res.session_id, conn, hooks);
    session.startHeartbeat();
    return session;
  }

  private startHeartbeat(): void {
    const { heartbeatIntervalMs, heartbeatWarnAfterMs } = this.hooks.settings.timing;
    this.timer = setInterval(() => void this.beat(heartbeatWarnAfterMs), heartbeatIntervalMs);
    unrefTimer(this.timer);
  }

  private async beat(warnAfterMs: number): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    let lastError = '';
    try {
      await jsonCall(this.conn.http, { pool: 'session', method: 'POST', path: 'session_heartbeat', body: { session_id: this.id, type: 'session_heartbeat' } }, 10_000);
      this.lastSuccessAt = Date.now();
      this.heartbeats++;
    } catch (e) {
      lastError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    } finally {
      this.inFlight = false;
    }
    const silentFor = Date.now() - this.lastSuccessAt;
    if (silentFor > warnAfterMs) {
      this.hooks.warn(
        `Session heartbeat failed for ${(silentFor / 1000).toFixed(0)} s for session ${this.id}. Last error: ${lastError}. ` +
          'The connection may be unreliable or the server down; if this persists the session will be ended.',
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
