/**
 * A real HTTP receiver of webhooks for tests, on 127.0.0.1 (reached through TASKFLEET_WEBHOOK_ALLOW_HOSTS). Each
 * request is recorded with its headers and body; `respond` decides the answer (status, a redirect, or `hang`:
 * never answered until the receiver closes).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookOutbox } from '../../src/webhooks/outbox';
import { waitFor } from './fleet';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type Answer = number | { status: number; location: string } | 'hang';

export interface Receiver {
  url: string;
  host: string;
  received: Received[];
  /** Requests that arrived and are not answered (hanging). */
  open(): number;
  close(): Promise<void>;
}

export async function startReceiver(respond: (req: Received, nth: number) => Answer = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(r);
      const answer = respond(r, received.filter((x) => x.path === r.path).length);
      if (answer === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if (typeof answer === 'number') res.writeHead(answer).end('ok');
      else res.writeHead(answer.status, { location: answer.location }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received,
    open: () => hanging.size,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Outbox passes (expand, claim and send, wait for the sends) until `done`. */
export async function pump(outbox: WebhookOutbox, done: () => boolean, what: string): Promise<void> {
  await waitFor(
    async () => {
      await outbox.expand();
      await outbox.deliver(true);
      await outbox.idle();
      return done();
    },
    15_000,
    what,
    5,
  );
}
