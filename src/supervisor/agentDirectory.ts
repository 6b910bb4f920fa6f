import { covers } from '../domain/capabilities';
import { isLive, type AgentRecord } from '../domain/agent';
import type { Clock } from '../domain/clock';
import type { Store } from '../store/port';

/**
 * The live agents, as routing sees them. A task is routable when some live agent has its type's handler
 * and all of its capabilities. The list is cached briefly so that listing tasks costs one agents query.
 */
export class AgentDirectory {
  private cache: { at: number; agents: AgentRecord[] } | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly staleAfterMs: number,
    private readonly cacheMs = 250,
  ) {}

  async live(): Promise<AgentRecord[]> {
    const now = this.clock.now();
    if (!this.cache || now - this.cache.at > this.cacheMs) {
      this.cache = { at: now, agents: await this.store.listAgents() };
    }
    return this.cache.agents.filter((a) => isLive(a, now, this.staleAfterMs));
  }

  static routable(task: { type: string; requiredCapabilities: string[] }, live: readonly AgentRecord[]): boolean {
    return live.some((a) => a.types.includes(task.type) && covers(a.capabilities, task.requiredCapabilities));
  }
}
