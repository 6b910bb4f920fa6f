/**
 * A fault-injecting TCP proxy for tests: listens on 127.0.0.1 (any free port) and forwards every connection
 * to a target (Redis). Its mode changes at run time:
 *
 * - `pass`: bytes flow both ways.
 * - `silence()`: the connections open now stop forwarding both ways and stay open (no FIN, no RST), for
 *   good, as a flow that an Azure NAT gateway or load balancer dropped for being idle. Connections made
 *   afterwards pass normally, as a new flow through the NAT would.
 * - `delay(ms)`: every chunk, on every connection, is forwarded `ms` later (in order).
 * - `reset()`: the connections open now are destroyed with an RST on both sides; new ones pass.
 *
 * `close()` stops listening and destroys every socket it holds.
 */
import net from 'node:net';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  silent: boolean;
}

export class FaultProxy {
  private readonly pairs = new Set<Pair>();
  private delayMs = 0;
  private accepted = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Starts a proxy to `target` (a `redis://host:port` URL, or host and port). */
  static async start(target: string | { host: string; port: number }): Promise<FaultProxy> {
    const to = typeof target === 'string' ? hostPort(target) : target;
    const server = net.createServer();
    const proxy = new FaultProxy(server, to);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** A Redis URL through this proxy. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections accepted since the start. */
  get connections(): number {
    return this.accepted;
  }

  /** Connections open now (silenced ones included). */
  get open(): number {
    return this.pairs.size;
  }

  /** Connections open now that are silenced. */
  get silent(): number {
    return [...this.pairs].filter((p) => p.silent).length;
  }

  /** Forwards without delay; connections silenced before stay silent (their flow is gone). */
  pass(): void {
    this.delayMs = 0;
  }

  /** Silences every connection open now; returns how many. */
  silence(): number {
    let count = 0;
    for (const pair of this.pairs) {
      if (!pair.silent) count++;
      pair.silent = true;
    }
    return count;
  }

  /** Forwards every chunk `ms` later, from now on. */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Destroys every connection open now with an RST on both sides; returns how many. */
  reset(): number {
    const count = this.pairs.size;
    for (const pair of [...this.pairs]) this.drop(pair, true);
    return count;
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.drop(pair, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, silent: false };
    this.pairs.add(pair);
    this.forward(pair, client, upstream);
    this.forward(pair, upstream, client);
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      // A silenced flow carries no FIN either: its other side learns nothing.
      socket.on('close', () => {
        if (!pair.silent) this.drop(pair, false);
      });
    }
  }

  private forward(pair: Pair, from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (pair.silent) return;
      if (this.delayMs === 0) {
        to.write(chunk);
        return;
      }
      setTimeout(() => {
        if (!pair.silent && !to.destroyed) to.write(chunk);
      }, this.delayMs);
    });
  }

  private drop(pair: Pair, withReset: boolean): void {
    this.pairs.delete(pair);
    for (const socket of [pair.client, pair.upstream]) {
      if (socket.destroyed) continue;
      if (withReset && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}

function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
}
