/** A server-sent-events client for tests: node:http, so a test can also stop reading (a slow client). */
import http from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  comments: string[];
  /** Resolves when the server ends the stream (`end`) or the connection is cut (`cut`). */
  closed: Promise<'end' | 'cut'>;
  /** Resolves once `n` events arrived (or rejects if the stream closes first). */
  waitFor(n: number): Promise<SseEvent[]>;
  /** Stops reading: the socket is not read from any more, so the server's writes back up. */
  pause(): void;
  resume(): void;
  close(): void;
}

export function openSse(base: string, path: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters: Array<() => void> = [];
      let buffer = '';
      let settled = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          cut = buffer.indexOf('\n\n');
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const i = line.indexOf(':');
              fields[line.slice(0, i)] = line.slice(i + 1).trimStart();
            }
          }
          if (fields.event !== undefined) {
            const e: SseEvent = { event: fields.event, data: JSON.parse(fields.data ?? 'null') };
            if (fields.id !== undefined) e.id = fields.id;
            events.push(e);
          }
        }
        for (const w of waiters.splice(0)) w();
      });
      const closed = new Promise<'end' | 'cut'>((done) => {
        const finish = (how: 'end' | 'cut') => {
          if (settled) return;
          settled = true;
          for (const w of waiters.splice(0)) w();
          done(how);
        };
        res.on('end', () => finish('end'));
        res.on('aborted', () => finish('cut'));
        res.on('error', () => finish('cut'));
        res.on('close', () => finish(res.complete ? 'end' : 'cut'));
      });
      const waitFor = async (n: number) => {
        while (events.length < n) {
          if (settled) throw new Error(`the stream closed after ${events.length} of ${n} events`);
          await new Promise<void>((r) => waiters.push(r));
        }
        return events.slice(0, n);
      };
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        closed,
        waitFor,
        pause: () => {
          res.pause();
          res.socket.pause();
        },
        resume: () => {
          res.socket.resume();
          res.resume();
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
