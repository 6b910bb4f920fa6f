/**
 * The fleet's gauges, sent to Application Insights as custom metrics at a fixed interval: backlog and oldest
 * queued age per capability set, backlog and free slots per pool (the figures of `/v1/stats`), agents by state, utilisation, the heartbeat age of each agent, and the agents
 * in a stall episode.
 */
import { stalledAgentCounts } from '../domain/stall';
import { fleetStats, type StatsDeps } from '../supervisor/stats';
import { METRICS, type Telemetry } from './telemetry';

export const GAUGE_INTERVAL_MS = 30_000;

interface Figures {
  queues: Array<{
    route: string;
    type: string;
    capabilities: string[];
    queued: number;
    oldestQueuedAgeMs: number | null;
  }>;
  pools: Array<{ key: string; backlog: number; freeSlots: number }>;
  registry: { byState: Record<string, number>; utilisation: number | null };
}

export class FleetGauges {
  constructor(
    private readonly stats: StatsDeps,
    private readonly telemetry: Telemetry,
  ) {}

  async report(): Promise<void> {
    const s = (await fleetStats(this.stats, 60)) as unknown as Figures;
    for (const q of s.queues) {
      const props = { route: q.route, type: q.type, capabilitySet: q.capabilities.join(',') };
      this.telemetry.metric(METRICS.backlog, q.queued, props);
      if (q.oldestQueuedAgeMs !== null) this.telemetry.metric(METRICS.oldestQueuedAgeMs, q.oldestQueuedAgeMs, props);
    }
    for (const p of s.pools) {
      this.telemetry.metric(METRICS.poolBacklog, p.backlog, { pool: p.key });
      this.telemetry.metric(METRICS.poolFreeSlots, p.freeSlots, { pool: p.key });
    }
    for (const [state, n] of Object.entries(s.registry.byState)) this.telemetry.metric(METRICS.agents, n, { state });
    this.telemetry.metric(METRICS.utilisation, s.registry.utilisation ?? 0);
    const now = this.stats.clock.now();
    const agents = await this.stats.store.listAgents();
    for (const a of agents) {
      this.telemetry.metric(METRICS.heartbeatAgeMs, Math.max(0, now - a.lastHeartbeatAt), { agentId: a.id });
    }
    for (const [phase, n] of Object.entries(stalledAgentCounts(agents))) {
      this.telemetry.metric(METRICS.stalledAgents, n, { phase });
    }
  }
}
