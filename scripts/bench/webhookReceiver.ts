/**
 * The benchmark's webhook receiver: a plain HTTP server on 127.0.0.1 (the supervisor reaches it through
 * TASKFLEET_WEBHOOK_ALLOW_HOSTS) that verifies each delivery's Standard Webhooks signature with the
 * `standardwebhooks` library, as a real receiver would, and hands the verified task to whoever waits for it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { wallMs } from './stats';

/** A verified delivery: when its body had fully arrived (wall-clock ms) and the task it reports. */
export interface Arrival {
  at: number;
  task: { id: string; status: string; finishedAt?: string };
}

export class WebhookReceiver {
  private readonly waiting = new Map<string, (a: Arrival) => void>();
  private readonly arrived = new Map<string, Arrival>();
  private verifier: Webhook | null = null;
  /** Deliveries whose signature did not verify: any makes the next wait fail. */
  private rejected = 0;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = http.createServer((req, res) => receiver!.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    return receiver;
  }

  /** The `whsec_` secret the deliveries are signed with (the key's callback secret). */
  useSecret(secret: string): void {
    this.verifier = new Webhook(secret);
  }

  /** Resolves with the delivery for `taskId` (at once when it came already); rejects after `timeoutMs`. */
  arrival(taskId: string, timeoutMs = 30_000): Promise<Arrival> {
    if (this.rejected > 0) return Promise.reject(new Error(`${this.rejected} webhook(s) failed verification`));
    const early = this.arrived.get(taskId);
    if (early) {
      this.arrived.delete(taskId);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(taskId);
        reject(new Error(`no webhook for task ${taskId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(taskId, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = wallMs();
      const body = Buffer.concat(chunks).toString('utf8');
      let task: Arrival['task'];
      try {
        if (!this.verifier) throw new Error('no secret yet');
        const payload = this.verifier.verify(body, req.headers as Record<string, string>) as {
          data: { task: Arrival['task'] };
        };
        task = payload.data.task;
      } catch {
        this.rejected++;
        res.writeHead(401).end();
        return;
      }
      res.writeHead(204).end();
      const arrival = { at, task };
      const waiter = this.waiting.get(task.id);
      this.waiting.delete(task.id);
      if (waiter) waiter(arrival);
      else this.arrived.set(task.id, arrival);
    });
  }
}
