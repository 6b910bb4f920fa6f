/** A small keep-alive HTTP client for the supervisor's API (lighter per request than fetch). */
import http from 'node:http';

export class ApiClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly url: URL;

  constructor(
    base: string,
    private readonly key: string,
  ) {
    this.url = new URL(base);
  }

  request(method: string, path: string, body?: string, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          timeout: timeoutMs,
          headers: {
            authorization: `Bearer ${this.key}`,
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POSTs JSON; rejects unless the answer is 200 or 201. */
  async post(path: string, body: string): Promise<string> {
    const res = await this.request('POST', path, body);
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`POST ${path}: ${res.status} ${res.body.slice(0, 300)}`);
    return res.body;
  }

  async get(path: string): Promise<string> {
    const res = await this.request('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.slice(0, 300)}`);
    return res.body;
  }

  close(): void {
    this.agent.destroy();
  }
}
