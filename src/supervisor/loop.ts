import type { Logger } from 'pino';

/**
 * A background loop: runs `fn` every `intervalMs` (never two runs at once), logs and survives failures.
 * Tests can leave loops off and call the underlying functions by hand.
 */
export class Loop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly fn: () => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  start(): this {
    this.schedule(0);
    return this;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.fn()
        .then(
          () => undefined,
          (err: unknown) => {
            this.log.warn({ err, loop: this.name }, `${this.name} failed; retrying in ${this.intervalMs} ms`);
          },
        )
        .finally(() => {
          this.running = null;
          this.schedule(this.intervalMs);
        });
    }, delay);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
