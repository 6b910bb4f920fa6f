/**
 * The worker's concurrency limit across all the routes it consumes. BullMQ limits concurrency per queue
 * consumer only, so after every change the runtime sets each consumer's limit to its own running tasks
 * plus the free slots (`limitFor`), and pauses a consumer whose limit falls to 0. A job fetched in the
 * moment before a limit takes effect is handed back to its queue untouched.
 */
export class Slots {
  private used = 0;
  private readonly byRoute = new Map<string, number>();

  constructor(
    readonly capacity: number,
    private readonly onChange: (free: number) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('capacity must be a whole number ≥ 1');
  }

  get inUse(): number {
    return this.used;
  }

  get free(): number {
    return this.capacity - this.used;
  }

  activeOn(route: string): number {
    return this.byRoute.get(route) ?? 0;
  }

  /** The most jobs a consumer of `route` should hold at once: its running ones plus every free slot. */
  limitFor(route: string): number {
    return this.activeOn(route) + this.free;
  }

  tryAcquire(route: string): boolean {
    if (this.used >= this.capacity) return false;
    this.used++;
    this.byRoute.set(route, this.activeOn(route) + 1);
    this.onChange(this.free);
    return true;
  }

  release(route: string): void {
    const active = this.activeOn(route);
    if (active === 0) throw new Error(`release without an acquire on ${route}`);
    this.used--;
    this.byRoute.set(route, active - 1);
    this.onChange(this.free);
  }
}
