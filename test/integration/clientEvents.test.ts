/**
 * `TaskfleetClient.events`: the client's half of the task event stream, against a local node:http server that
 * speaks server-sent events and drops the first connection mid-stream. Whatever the supervisor does, resuming
 * with `Last-Event-ID` without a gap or a repeat, and ending after the terminal event, is the client's job.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TaskfleetClient, TaskfleetProblem, parseSse, type TaskStreamItem } from '../../src/client';

const KINDS = ['submitted', 'started', 'failed', 'retry_scheduled', 'started', 'succeeded'];
const EVENTS = KINDS.map((kind, i) => ({ seq: i + 1, at: new Date(0).toISOString(), kind, attempt: 1 }));

const frame = (e: (typeof EVENTS)[number]) => `id: ${e.seq}\nevent: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`;

interface Seen {
  lastEventId: string | null;
  authorization: string | null;
}

/** A server for task `t1`: `handle` answers connection n (0-based) given what it asked for. */
async function sseServer(handle: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      lastEventId: (req.headers['last-event-id'] as string | undefined) ?? null,
      authorization: req.headers.authorization ?? null,
    });
    handle(seen.length - 1, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url, seen, close };
}

function streamHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
}

async function collect(iter: AsyncIterable<TaskStreamItem>): Promise<TaskStreamItem[]> {
  const items: TaskStreamItem[] = [];
  for await (const item of iter) items.push(item);
  return items;
}

describe('TaskfleetClient.events over a dropped SSE connection', () => {
  it('resumes with Last-Event-ID after a drop: every event once, progress too, and ends after the terminal one', async () => {
    const server = await sseServer((n, req, res) => {
      streamHead(res);
      if (n === 0) {
        res.write(`retry: 10\n\n${frame(EVENTS[0]!)}: keep-alive\n\n`);
        res.write(`event: progress\ndata: {"taskId":"t1","progress":40,"progressAt":"1970-01-01T00:00:00.000Z"}\n\n`);
        // Half of the next event, then the connection is gone: that event must come again, whole.
        res.write(frame(EVENTS[1]!) + frame(EVENTS[2]!).slice(0, 12), () => req.socket.destroy());
        return;
      }
      const after = Number(req.headers['last-event-id'] ?? 0);
      // The rest, written in pieces that split lines and CRLF pairs; the connection is left open on purpose.
      const rest = EVENTS.filter((e) => e.seq > after)
        .map(frame)
        .join('')
        .replace(/\n/g, '\r\n');
      for (let i = 0; i < rest.length; i += 7) res.write(rest.slice(i, i + 7));
    });
    try {
      const client = new TaskfleetClient({ baseUrl: server.url, apiKey: 'tf_test' });
      const items = await collect(client.events('t1'));
      const seqs = items.flatMap((i) => (i.kind === 'event' ? [i.seq] : []));
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
      expect(items.filter((i) => i.kind === 'progress')).toEqual([
        { kind: 'progress', progress: { taskId: 't1', progress: 40, progressAt: '1970-01-01T00:00:00.000Z' } },
      ]);
      expect(items.at(-1)).toMatchObject({ kind: 'event', event: { kind: 'succeeded', seq: 6 } });
      expect(server.seen).toEqual([
        { lastEventId: null, authorization: 'Bearer tf_test' },
        { lastEventId: '2', authorization: 'Bearer tf_test' },
      ]);
    } finally {
      await server.close();
    }
  });

  it('reconnects when the server ends the stream before the terminal event', async () => {
    const server = await sseServer((n, req, res) => {
      streamHead(res);
      const after = Number(req.headers['last-event-id'] ?? 0);
      const next = EVENTS.filter((e) => e.seq > after).slice(0, 2);
      res.end(`retry: 5\n\n${next.map(frame).join('')}`);
    });
    try {
      const items = await collect(new TaskfleetClient({ baseUrl: server.url }).events('t1'));
      expect(items.map((i) => (i.kind === 'event' ? i.seq : 0))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(server.seen.map((s) => s.lastEventId)).toEqual([null, '2', '4']);
    } finally {
      await server.close();
    }
  });

  it('throws a problem answer (404) at once, without reconnecting', async () => {
    const server = await sseServer((_n, _req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'urn:taskfleet:problem:not_found',
          title: 'not found',
          status: 404,
          detail: 'task t1 not found',
        }),
      );
    });
    try {
      const err = await collect(new TaskfleetClient({ baseUrl: server.url }).events('t1')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TaskfleetProblem);
      expect(err).toMatchObject({ status: 404, code: 'not_found', detail: 'task t1 not found' });
      expect(server.seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('stops when the caller aborts', async () => {
    const server = await sseServer((_n, _req, res) => {
      streamHead(res);
      res.write(frame(EVENTS[0]!));
    });
    try {
      const controller = new AbortController();
      const items: TaskStreamItem[] = [];
      const done = (async () => {
        for await (const item of new TaskfleetClient({ baseUrl: server.url }).events('t1', {
          signal: controller.signal,
        })) {
          items.push(item);
          controller.abort();
        }
      })();
      await expect(done).rejects.toThrow();
      expect(items).toHaveLength(1);
      expect(server.seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('parseSse', () => {
  async function* chunks(...parts: string[]) {
    for (const p of parts) yield new TextEncoder().encode(p);
  }

  it('joins data lines, keeps the last id across messages, ignores comments, drops an unfinished message and its id', async () => {
    const state = { lastEventId: '' };
    const out = [];
    for await (const m of parseSse(
      chunks(': hi\r', '\nid: 7\ndata: a\ndata:b\n\nevent: x\ndata:  c\r\r', 'id: 9\ndata: unfinished'),
      state,
    ))
      out.push(m);
    expect(out).toEqual([
      { event: 'message', data: 'a\nb', lastEventId: '7', hasId: true },
      { event: 'x', data: ' c', lastEventId: '7', hasId: false },
    ]);
    expect(state.lastEventId).toBe('7');
  });
});
