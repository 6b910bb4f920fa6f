import type { Logger } from 'pino';
import type { AgentMetrics, AgentRecord } from '../../src/domain/agent';
import type { Clock } from '../../src/domain/clock';
import type { Store } from '../../src/store/port';

/**
 * Reports liveness, load and process metrics every interval, and passes on the state the registry holds. The
 * answer also carries the supervisor's request to recycle the Redis connections (it saw this agent idle beside
 * tasks it covers): `onRecycleRequested` is called once per new request, and the admin's settings, which
 * `onRecord` applies. Each beat reports the concurrency applied (`concurrency`), which placement counts.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  /** The recycle request last passed on; a new process starts with none (registering clears the request). */
  private recycleActedOn: number | null = null;
  private lastCpu = process.cpuUsage();
  private lastAt = process.hrtime.bigint();

  constructor(
    private readonly store: Store,
    private readonly agentId: string,
    private readonly intervalMs: number,
    private readonly running: () => number,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onRecord: (agent: AgentRecord) => void,
    private readonly onRecycleRequested?: (requestedAt: number) => void,
    private readonly concurrency?: () => number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.log.warn({ err }, 'heartbeat failed'));
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async beat(): Promise<void> {
    const record = await this.store.heartbeat({
      agentId: this.agentId,
      now: this.clock.now(),
      runningTasks: this.running(),
      metrics: this.metrics(),
      ...(this.concurrency ? { concurrency: this.concurrency() } : {}),
    });
    if (record) {
      this.onRecord(record);
      this.passOnRecycleRequest(record.recycleRequestedAt);
    } else this.log.error('the registry no longer knows this agent (removed?); it takes no new work');
  }

  private passOnRecycleRequest(requestedAt: number | null): void {
    if (requestedAt === null || requestedAt === this.recycleActedOn) return;
    this.recycleActedOn = requestedAt;
    // The callback logs what it does (WorkerRuntime.recycleRedis names the reason).
    this.onRecycleRequested?.(requestedAt);
  }

  private metrics(): AgentMetrics {
    const cpu = process.cpuUsage(this.lastCpu);
    const at = process.hrtime.bigint();
    const elapsedUs = Number(at - this.lastAt) / 1_000;
    this.lastCpu = process.cpuUsage();
    this.lastAt = at;
    const mem = process.memoryUsage();
    return {
      cpuPercent: elapsedUs > 0 ? Math.round(((cpu.user + cpu.system) / elapsedUs) * 1000) / 10 : 0,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
    };
  }
}
