/**
 * The worker's concurrency limit across all the queues it listens on. BullMQ limits concurrency per
 * queue only, so the runtime pauses every queue consumer when the slots are full and resumes them when
 * one frees; the rare job fetched in between is handed back to its queue untouched.
 */
export class Slots {
  private used = 0;

  constructor(
    readonly capacity: number,
    private readonly onFull: () => void,
    private readonly onFree: (free: number) => void,
  ) {}

  get inUse(): number {
    return this.used;
  }

  tryAcquire(): boolean {
    if (this.used >= this.capacity) return false;
    this.used++;
    if (this.used === this.capacity) this.onFull();
    return true;
  }

  release(): void {
    const wasFull = this.used === this.capacity;
    this.used--;
    if (wasFull) this.onFree(this.capacity - this.used);
  }
}
