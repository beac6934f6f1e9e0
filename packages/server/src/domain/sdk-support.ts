/**
 * What this server says to an SDK about its version, at client/config and create_session.
 *
 * Every official SDK from 0.25 to TINKER_WIRE_VERSION is served. create_session's
 * `warning_message` names what the SDK's version can ask for that this server does not serve,
 * and what hosted Tinker would do with that version (it refuses 0.27 and earlier and warns
 * 0.29–0.32), so code written against the local server does not meet a surprise there.
 */
import { TINKER_MIN_PROTO_SDK_VERSION, TINKER_WIRE_VERSION, compareSdkVersions } from '@tinker-ts/protocol';

/**
 * The session-wide sample poll (`retrieve_futures`) is offered from this SDK version on. The
 * official SDK's poller (lib/session_futures_poller.py: one `{target, prev_cursor}` poll per
 * sampling session) is absent from 0.25; its release is not published, so the flag is offered
 * from hosted Tinker's current floor, whose SDKs all have it.
 */
export const SESSION_FUTURES_POLL_MIN_SDK = '0.33.0';

/**
 * Parts of the newer wire this server does not serve, with the first SDK version that can ask
 * for them. Where the first release is not published, `since` is 0.30: the oldest release the
 * docs' API reference (generated from 0.30.4) lists them in.
 */
export const NOT_SERVED: ReadonlyArray<{ since: string; what: string }> = [
  { since: '0.30.0', what: 'the stable_reinforce loss and the record_stability_info it needs (its formula is unpublished; both are refused)' },
  { since: '0.30.0', what: 'external weights (save_weights_external, get_external_weights_urls)' },
];

export function offersSessionFuturesPoll(sdkVersion: string | undefined): boolean {
  return sdkVersion !== undefined && compareSdkVersions(sdkVersion, SESSION_FUTURES_POLL_MIN_SDK) >= 0;
}

/** create_session's warning for an SDK of this version, or null when there is nothing to say. */
export function sdkVersionWarning(sdkVersion: string): string | null {
  const parts: string[] = [];
  if (compareSdkVersions(sdkVersion, TINKER_MIN_PROTO_SDK_VERSION) < 0) {
    parts.push(`SDK ${sdkVersion} is older than ${TINKER_MIN_PROTO_SDK_VERSION}, the oldest this server is tested with; hosted Tinker refuses it.`);
  } else if (compareSdkVersions(sdkVersion, '0.28.0') < 0) {
    parts.push(`Hosted Tinker refuses SDK ${sdkVersion} ("no longer supported"): upgrade before moving to it.`);
  } else if (compareSdkVersions(sdkVersion, '0.33.0') < 0) {
    parts.push(`Hosted Tinker warns SDK ${sdkVersion} as outdated: upgrade before moving to it.`);
  }
  if (compareSdkVersions(sdkVersion, TINKER_WIRE_VERSION) > 0) {
    parts.push(`SDK ${sdkVersion} is newer than the wire this server implements (${TINKER_WIRE_VERSION}); what it added after that is not served.`);
  }
  const missing = NOT_SERVED.filter((n) => compareSdkVersions(sdkVersion, n.since) >= 0).map((n) => n.what);
  if (missing.length) parts.push(`This server does not serve: ${missing.join('; ')}.`);
  return parts.length ? parts.join(' ') : null;
}

/** Several notices as one message (null when there is none). */
export function joinNotices(...notices: Array<string | null>): string | null {
  const present = notices.filter((n): n is string => !!n);
  return present.length ? present.join(' ') : null;
}
