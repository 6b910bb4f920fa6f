/**
 * Each agent's metrics history: every `intervalMs` (a minute by default) the supervisors write one sample per
 * agent that has not stopped (running tasks, slots, CPU, memory, heartbeat age, as its heartbeats reported them),
 * stamped with the start of the interval, so several supervisors sampling at once store it once. Samples older
 * than `keepMs` (a day) are deleted in small batches. `GET /v1/agents/:id/metrics` reads them, for the console's
 * charts.
 */
import type { Logger } from 'pino';
import type { AgentSample } from '../domain/agent';
import type { Clock } from '../domain/clock';
import type { Store } from '../store/port';

export interface AgentMetricsSettings {
  intervalMs: number;
  keepMs: number;
}

/** Samples deleted per transaction when old ones are purged. */
const PURGE_BATCH = 1000;
const GONE: ReadonlySet<string> = new Set(['stopped', 'failed']);

export class AgentMetricsHistory {
  constructor(
    private readonly store: Store,
    readonly settings: AgentMetricsSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** One pass: a sample of every agent that has not stopped, then the purge of what is older than `keepMs`. */
  async sample(): Promise<{ stored: number; purged: number }> {
    const now = this.clock.now();
    const at = Math.floor(now / this.settings.intervalMs) * this.settings.intervalMs;
    const samples: AgentSample[] = (await this.store.listAgents())
      .filter((a) => !GONE.has(a.state))
      .map((a) => ({
        agentId: a.id,
        at,
        runningTasks: a.runningTasks,
        concurrency: a.concurrency,
        cpuPercent: a.metrics?.cpuPercent ?? null,
        rssBytes: a.metrics?.rssBytes ?? null,
        heartbeatAgeMs: Math.max(0, now - a.lastHeartbeatAt),
      }));
    const stored = await this.store.recordAgentSamples(samples);
    let purged = 0;
    for (;;) {
      const n = await this.store.purgeAgentSamples({ before: now - this.settings.keepMs, limit: PURGE_BATCH });
      purged += n;
      if (n < PURGE_BATCH) break;
    }
    if (purged > 0) this.log.debug({ purged }, 'purged old agent metrics samples');
    return { stored, purged };
  }
}
