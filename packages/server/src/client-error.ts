/**
 * Requests node:http cannot parse (bad bytes, a malformed or doubled Content-Length, headers
 * over the size limit) never reach the router, and Node answers them with a bare status line.
 * This answers them with the same JSON `{error, code}` body as every other refusal, then closes
 * the connection: after a parse error nothing later on it can be trusted.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';

interface ClientError extends Error {
  code?: string;
  /** llhttp's reason, e.g. "Invalid character in Content-Length". */
  reason?: string;
}

function statusOf(err: ClientError): { status: number; code: string; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'request_header_fields_too_large', message: `request headers exceed the limit of ${http.maxHeaderSize} bytes` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'payload_too_large', message: 'chunk extensions of the request body are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request was not received in time' };
    default:
      return { status: 400, code: 'bad_request', message: `malformed HTTP request: ${err.reason ?? err.message}` };
  }
}

/** The server's `clientError` listener. */
export function answerClientError(err: ClientError, socket: Duplex): void {
  // A response already on its way on this socket cannot be replaced by another.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, code, message } = statusOf(err);
  const body = JSON.stringify({ error: message, code });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
