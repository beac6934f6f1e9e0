/**
 * Signed, expiring download links for checkpoint archives. The hosted service hands out a
 * storage URL; here the server serves the archive itself, under a token that names the
 * checkpoint and the user it was issued to and carries an HMAC, so the download needs no API
 * key but cannot be forged, widened to another checkpoint, or used after it expires.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CheckpointKind } from '../store/rows.js';

export const ARCHIVE_DOWNLOAD_PREFIX = '/api/v1/checkpoint_archives/';
/** Same lifetime the official SDK assumes when the server sends no Expires header. */
export const ARCHIVE_LINK_TTL_MS = 15 * 60_000;

export interface ArchiveGrant {
  runId: string;
  kind: CheckpointKind;
  name: string;
  /** The user the link was issued to; the download is checked against their access. */
  user: string;
  /** Epoch ms. */
  expiresAt: number;
}

export class ArchiveSigner {
  // Per process: links die with the server, which is fine for 15-minute links.
  private readonly secret = randomBytes(32);

  sign(grant: ArchiveGrant): string {
    const payload = Buffer.from(
      JSON.stringify({ r: grant.runId, k: grant.kind, n: grant.name, u: grant.user, e: grant.expiresAt }),
    ).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The grant in a token, or a reason it is not valid. */
  verify(token: string, now: number): ArchiveGrant | { invalid: string } {
    const dot = token.indexOf('.');
    if (dot <= 0) return { invalid: 'malformed download token' };
    const payload = token.slice(0, dot);
    // Compared as text: base64url decoding ignores stray low bits, the canonical text does not.
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { invalid: 'download token signature is not valid (links stop working when the server restarts)' };
    }
    let g: { r: string; k: CheckpointKind; n: string; u: string; e: number };
    try {
      g = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { invalid: 'malformed download token' };
    }
    if (g.e <= now) return { invalid: `download link expired at ${new Date(g.e).toISOString()}; request a new archive URL` };
    return { runId: g.r, kind: g.k, name: g.n, user: g.u, expiresAt: g.e };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
