/**
 * One per supervisor: tails the task event log and hands each new event to whoever waits on it (a `?wait=`
 * request, a task's stream, the fleet stream). A waiting request costs a Map entry, never a query of its own.
 *
 * The log is read when a writer rings (`notifyTaskChanged`: Redis pub/sub on its own subscriber connection)
 * and every `pollMs` besides, so a lost message or a Redis outage only delays an answer. Reads are coalesced:
 * at most one in flight, run once more when rung meanwhile. SQL is the truth; Redis is the doorbell.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TERMINAL_STATUSES, type TaskEvent, type TaskRecord, type TaskStatus } from '../domain/task';
import { rungTaskIds, taskEventsChannel, workChannel } from '../dispatch/notify';
import { waitUntilReady } from '../dispatch/redis';
import { deadlineOptions, type RedisWatch } from '../dispatch/redisWatch';
import type { Store } from '../store/port';

/** The status a task has right after an event of this kind; the kinds that are always followed by one have none. */
const RESULTING_STATUS: Readonly<Record<string, TaskStatus>> = {
  submitted: 'queued',
  started: 'running',
  cancel_requested: 'running',
  succeeded: 'succeeded',
  retry_scheduled: 'queued',
  released: 'queued',
  retried: 'queued',
  dead: 'dead',
  cancelled: 'cancelled',
  expired: 'expired',
};

export function resultingStatus(kind: string): TaskStatus | null {
  return RESULTING_STATUS[kind] ?? null;
}

export function isTerminalEvent(kind: string): boolean {
  const status = resultingStatus(kind);
  return status !== null && TERMINAL_STATUSES.has(status);
}

/** The progress a task shows (H1 keeps it in SQL; absent on a store without it). */
export interface TaskProgress {
  taskId: string;
  progress: unknown;
  progressAt: string | null;
}

export interface TaskListener {
  event(e: TaskEvent): void;
  /** Given, the watcher reads the task's progress when its writer rings, and tells it when it changed. */
  progress?(p: TaskProgress): void;
  /** The watcher stopped (the supervisor is shutting down). */
  closed(): void;
}

export interface FleetListener {
  event(e: TaskEvent): void;
  closed(): void;
}

export interface WatcherOptions {
  store: Store;
  redisUrl: string;
  prefix: string;
  /** How often the log is read without a ring. */
  pollMs: number;
  log: Logger;
  watch: RedisWatch;
  /** Events read per query. */
  batch?: number;
}

/** The progress of a task record, when the store keeps it. */
export function progressOf(task: TaskRecord): TaskProgress | null {
  const t = task as TaskRecord & { progress?: unknown; progressAt?: number | null };
  if (!('progress' in t) || t.progress === null || t.progress === undefined) return null;
  const at = typeof t.progressAt === 'number' ? new Date(t.progressAt).toISOString() : null;
  return { taskId: task.id, progress: t.progress, progressAt: at };
}

const TYPE_CACHE_SIZE = 10_000;

export class TaskWatcher {
  private readonly byTask = new Map<string, Set<TaskListener>>();
  private readonly fleet = new Set<FleetListener>();
  /** Last progress sent per watched task (as JSON), so an unchanged one is not sent again. */
  private readonly lastProgress = new Map<string, string>();
  private readonly types = new Map<string, string>();
  private subscriber: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private reading: Promise<void> | null = null;
  private again = false;
  /** Bumped on every registration: an idle read does not skip ahead past a listener that came meanwhile. */
  private registrations = 0;
  private readonly progressDue = new Set<string>();
  private stopped = false;
  private readonly workListeners = new Set<(routeKeys: string[]) => void>();
  private readonly ringListeners = new Set<(taskIds: readonly string[]) => void>();
  private readonly batch: number;

  constructor(private readonly options: WatcherOptions) {
    this.batch = options.batch ?? 1000;
  }

  /**
   * Listens to the work doorbell (notifyWork: the route keys of tasks that became due), which shares this
   * watcher's subscriber connection; returns the unsubscribe. What claims for HTTP agents wait on.
   */
  onWork(listener: (routeKeys: string[]) => void): () => void {
    this.workListeners.add(listener);
    return () => this.workListeners.delete(listener);
  }

  get listeners(): number {
    let n = this.fleet.size;
    for (const set of this.byTask.values()) n += set.size;
    return n;
  }

  async start(): Promise<void> {
    const { options } = this;
    this.lastSeq = await options.store.lastTaskEventSeq();
    const channel = taskEventsChannel(options.prefix);
    // Subscriber mode: this connection runs nothing else. Its deadlines replace a silent socket; on every
    // (re)connection it subscribes again and reads the log, for what was published while it was away.
    const sub = new Redis(options.redisUrl, {
      ...deadlineOptions(options.watch),
      connectionName: 'taskfleet-supervisor-watcher',
      autoResubscribe: false,
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(1_000, times * 50),
    });
    sub.on('error', (err) => options.log.debug({ err }, 'task watcher redis error'));
    const work = workChannel(options.prefix);
    sub.on('ready', () => {
      sub.subscribe(channel, work).catch((err: unknown) => options.log.debug({ err }, 'task watcher subscribe failed'));
      this.ring();
    });
    sub.on('message', (from: string, message: string) => {
      if (from === work) {
        const keys = rungTaskIds(message);
        for (const l of this.workListeners) l(keys);
      } else this.ringMany(rungTaskIds(message));
    });
    this.subscriber = sub;
    this.timer = setInterval(() => this.ring(), options.pollMs);
    this.timer.unref();
    // The API may serve before the subscriber is ready (the periodic read answers meanwhile); waiting here keeps a
    // stop right after the start from cutting a connection mid-handshake, which ioredis would then reconnect.
    await waitUntilReady(sub, options.redisUrl).catch((err: unknown) =>
      options.log.warn({ err }, 'the task watcher is not subscribed yet; waits are answered by its periodic read'),
    );
  }

  /** Closes the subscriber and tells every listener (streams end, waits answer). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.subscriber?.disconnect();
    this.subscriber = null;
    const all = [...this.fleet, ...[...this.byTask.values()].flatMap((s) => [...s])];
    this.fleet.clear();
    this.byTask.clear();
    for (const l of all) l.closed();
    await this.reading?.catch(() => undefined);
  }

  /** Listens to one task's events; returns the unsubscribe. */
  watchTask(taskId: string, listener: TaskListener): () => void {
    this.registrations++;
    let set = this.byTask.get(taskId);
    if (!set) this.byTask.set(taskId, (set = new Set()));
    set.add(listener);
    return () => {
      const s = this.byTask.get(taskId);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) {
        this.byTask.delete(taskId);
        this.lastProgress.delete(taskId);
      }
    };
  }

  watchFleet(listener: FleetListener): () => void {
    this.registrations++;
    this.fleet.add(listener);
    return () => this.fleet.delete(listener);
  }

  /** The type of each task: cached (a task's type never changes), the rest read in one query. */
  async typesOf(taskIds: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const id of new Set(taskIds)) {
      const type = this.types.get(id);
      if (type === undefined) missing.push(id);
      else out.set(id, type);
    }
    if (missing.length === 0) return out;
    for (const { id, type } of await this.options.store.listTaskHeads(missing)) {
      out.set(id, type);
      this.types.set(id, type);
    }
    for (const id of this.types.keys()) {
      if (this.types.size <= TYPE_CACHE_SIZE) break;
      this.types.delete(id);
    }
    return out;
  }

  /**
   * Hears every ring's task ids before any read of the log (the workflow engine advances a workflow as soon as
   * one of its steps' tasks rings); returns the unsubscribe.
   */
  onRing(listener: (taskIds: readonly string[]) => void): () => void {
    this.ringListeners.add(listener);
    return () => this.ringListeners.delete(listener);
  }

  /** Writers rang for these tasks (one message may carry several). */
  private ringMany(taskIds: readonly string[]): void {
    for (const l of this.ringListeners) l(taskIds);
    for (const id of taskIds) this.ring(id);
  }

  /** A writer rang (for `taskId`), or the poll ticked: read the log, at most one read at a time. */
  ring(taskId?: string): void {
    if (this.stopped) return;
    // With nobody listening a ring is not worth a query: the periodic read keeps up with the log's head, and a
    // listener that comes gets every event after it (at most one poll interval of events read again).
    if (taskId !== undefined && this.listeners === 0) return;
    if (taskId !== undefined && this.byTask.get(taskId)?.size) this.progressDue.add(taskId);
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readAll()
      .catch((err: unknown) => this.options.log.warn({ err }, 'task watcher could not read the event log'))
      .finally(() => {
        this.reading = null;
        if (this.again && !this.stopped) {
          this.again = false;
          this.ring();
        }
      });
  }

  private async readAll(): Promise<void> {
    const { store } = this.options;
    if (this.listeners === 0) {
      // Nobody listens: keep up with the log's head instead of reading its events.
      const before = this.registrations;
      const head = await store.lastTaskEventSeq();
      if (this.registrations === before) {
        this.lastSeq = Math.max(this.lastSeq, head);
        return;
      }
    }
    for (;;) {
      const events = await store.listTaskEventsAfter(this.lastSeq, this.batch);
      for (const e of events) this.hand(e);
      const last = events[events.length - 1];
      if (last) this.lastSeq = last.seq;
      if (events.length < this.batch || this.stopped) break;
    }
    await this.sendProgress();
  }

  private hand(e: TaskEvent): void {
    for (const l of this.byTask.get(e.taskId) ?? []) l.event(e);
    for (const l of this.fleet) l.event(e);
  }

  private async sendProgress(): Promise<void> {
    const due = [...this.progressDue];
    this.progressDue.clear();
    for (const taskId of due) {
      const listeners = [...(this.byTask.get(taskId) ?? [])].filter((l) => l.progress !== undefined);
      if (listeners.length === 0) continue;
      const task = await this.options.store.getTask(taskId);
      const p = task ? progressOf(task) : null;
      if (!p) continue;
      const json = JSON.stringify([p.progress, p.progressAt]);
      if (this.lastProgress.get(taskId) === json) continue;
      this.lastProgress.set(taskId, json);
      for (const l of listeners) l.progress?.(p);
    }
  }
}
