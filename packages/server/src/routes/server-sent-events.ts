/**
 * Server-sent events (text/event-stream) as the OpenAI and Anthropic clients read them: each
 * event is an optional `event:` line and one `data:` line of JSON (or OpenAI's `[DONE]`).
 */
import type { ServerResponse } from 'node:http';
import type { Reply } from '../router.js';

export interface EventWriter {
  send(data: unknown, event?: string): void;
  /** Raw data line (e.g. `[DONE]`). */
  sendText(data: string, event?: string): void;
}

/** A streamed 200 reply whose events `produce` writes; it stops early once the client goes away. */
export function eventStream(produce: (out: EventWriter, closed: () => boolean) => Promise<void> | void): Reply {
  return {
    kind: 'stream',
    status: 200,
    headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' },
    async write(res: ServerResponse) {
      const closed = () => res.destroyed || res.writableEnded;
      const sendText = (data: string, event?: string) => {
        if (closed()) return;
        res.write(`${event ? `event: ${event}\n` : ''}data: ${data}\n\n`);
      };
      try {
        await produce({ send: (data, event) => sendText(JSON.stringify(data), event), sendText }, closed);
      } finally {
        if (!closed()) res.end();
      }
    },
  };
}
