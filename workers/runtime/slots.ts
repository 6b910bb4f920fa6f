/**
 * The worker's concurrency limit across all the routes it consumes, counted in tasks. A job takes the slots
 * of the tasks it runs (one, or several for a dispatch batch), and each task gives its slot back as soon as
 * it has run. BullMQ limits concurrency per
 * queue consumer, in jobs, so after every change the runtime sets each consumer's limit to the jobs it holds
 * plus the free slots (`limitFor`), and pauses a consumer whose limit falls to 0. A job fetched in the moment
 * before a limit takes effect, or carrying more tasks than the free slots, runs what fits and hands the rest on.
 * The capacity can change while tasks run (an admin's PATCH of the agent's concurrency): below the slots in use,
 * none is free until enough tasks end.
 */
export class Slots {
  private used = 0;
  /** Per route: the jobs holding slots, the slots they hold, and how many tasks its last job carried. */
  private readonly byRoute = new Map<string, { jobs: number; tasks: number; lastJob: number }>();

  private cap: number;

  constructor(
    capacity: number,
    private readonly onChange: (free: number) => void,
  ) {
    this.cap = Slots.checked(capacity);
  }

  private static checked(capacity: number): number {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('capacity must be a whole number ≥ 1');
    return capacity;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Sets the capacity; running tasks keep their slots (the free ones may be none for a while). */
  resize(capacity: number): void {
    if (capacity === this.cap) return;
    this.cap = Slots.checked(capacity);
    this.onChange(this.free);
  }

  get inUse(): number {
    return this.used;
  }

  get free(): number {
    return Math.max(0, this.cap - this.used);
  }

  /** The slots held by jobs of `route`. */
  activeOn(route: string): number {
    return this.byRoute.get(route)?.tasks ?? 0;
  }

  /**
   * The most jobs a consumer of `route` should hold at once: the ones it holds, plus as many as the free slots
   * fill if the next jobs carry as many tasks as its last one. BullMQ fetches that many jobs ahead, so a limit
   * in tasks would fetch up to ten times too many dispatch batches, each of them handed back.
   */
  limitFor(route: string): number {
    const r = this.byRoute.get(route);
    return (r?.jobs ?? 0) + Math.ceil(this.free / (r?.lastJob ?? 1));
  }

  /** Takes a slot for a job of one task; false when none is free. */
  tryAcquire(route: string): boolean {
    return this.acquireUpTo(route, 1) === 1;
  }

  /** Takes up to `wanted` slots for one job; returns how many it took (0 when none is free). */
  acquireUpTo(route: string, wanted: number): number {
    const n = Math.min(wanted, this.free);
    if (n <= 0) return 0;
    const r = this.byRoute.get(route) ?? { jobs: 0, tasks: 0, lastJob: 1 };
    this.byRoute.set(route, { jobs: r.jobs + 1, tasks: r.tasks + n, lastJob: Math.max(1, wanted) });
    this.used += n;
    this.onChange(this.free);
    return n;
  }

  /** Ends a job of one task: gives back its slot. */
  release(route: string): void {
    this.change(route, -1, -1);
  }

  /** Gives back the slot of one task of a job of `route`, as soon as that task has run. */
  releaseTask(route: string): void {
    this.change(route, 0, -1);
  }

  /** Ends a job of `route` whose tasks' slots have all been given back. */
  endJob(route: string): void {
    this.change(route, -1, 0);
  }

  private change(route: string, jobs: number, tasks: number): void {
    const r = this.byRoute.get(route);
    if (!r || r.jobs + jobs < 0 || r.tasks + tasks < 0) throw new Error(`release without an acquire on ${route}`);
    this.byRoute.set(route, { ...r, jobs: r.jobs + jobs, tasks: r.tasks + tasks });
    this.used += tasks;
    this.onChange(this.free);
  }
}
