// Short-lived JWTs for servers with `pjwt_auth_enabled`: the credential is traded for a JWT at
// POST auth/token, refreshed in the background 5 minutes before expiry and on demand when less
// than a minute is left, so a late background refresh never sends a stale token.
import { base64ToBytes } from '@tinker-ts/protocol';
import { unrefTimer } from './unref-timer.js';

const REFRESH_BEFORE_EXPIRY_MS = 300_000;
const REFRESH_ON_DEMAND_MS = 60_000;
const RETRY_AFTER_FAILURE_MS = 60_000;

export function jwtExpiryMs(jwt: string): number | undefined {
  try {
    const payload = jwt.split('.')[1] ?? '';
    const claims = JSON.parse(new TextDecoder().decode(base64ToBytes(payload))) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class JwtAuth {
  private jwt = '';
  private refreshing: Promise<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly exchange: () => Promise<string>,
    private readonly onRefreshError: (e: unknown) => void,
  ) {}

  async init(): Promise<void> {
    await this.refresh();
  }

  /** The current JWT: synchronously while it has runway, else after a refresh. */
  token(): string | Promise<string> {
    const left = (jwtExpiryMs(this.jwt) ?? 0) - Date.now();
    if (this.jwt && left > REFRESH_ON_DEMAND_MS) return this.jwt;
    return this.refresh().catch((e) => {
      this.onRefreshError(e);
      return this.jwt;
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private refresh(): Promise<string> {
    this.refreshing ??= this.exchange()
      .then((jwt) => {
        this.jwt = jwt;
        this.schedule(Math.max(0, (jwtExpiryMs(jwt) ?? Date.now() + RETRY_AFTER_FAILURE_MS + REFRESH_BEFORE_EXPIRY_MS) - Date.now() - REFRESH_BEFORE_EXPIRY_MS));
        return jwt;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh().catch((e) => {
        this.onRefreshError(e);
        this.schedule(RETRY_AFTER_FAILURE_MS);
      });
    }, delayMs);
    unrefTimer(this.timer);
  }
}
