export const AGENT_STATES = [
  'registered',
  'running',
  'degraded',
  'draining',
  'stopped',
  'failed',
  'warning',
  'suspended',
  'frozen',
] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/** States in which an agent takes new work (if its heartbeat is fresh). */
export const ACCEPTING_STATES: ReadonlySet<AgentState> = new Set(['registered', 'running', 'degraded', 'warning']);

/**
 * The states in which the registry refuses an agent's claims (an agent it does not know may claim), and in which
 * a worker takes no new work: every state that does not accept. Both stores' claim statements are built from it.
 */
export const CLAIM_REFUSED_STATES: readonly AgentState[] = AGENT_STATES.filter((s) => !ACCEPTING_STATES.has(s));

export interface AgentMetrics {
  cpuPercent: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface AgentRecord {
  id: string;
  capabilities: string[];
  /**
   * The task types the agent serves now: the ones it registered with, less `disabledTypes`. What routing,
   * placement and its pool's signature see.
   */
  types: string[];
  /** The agent's slots as it applies them (registered, then reported at each heartbeat). */
  concurrency: number;
  /** The slots an admin asked of it (PATCH /v1/agents/:id), applied at its next heartbeat; null: as registered. */
  desiredConcurrency: number | null;
  /** Task types an admin took from the agent (sorted); it stops serving them at its next heartbeat. */
  disabledTypes: string[];
  state: AgentState;
  hostname: string;
  pid: number;
  version: string;
  startedAt: number;
  lastHeartbeatAt: number;
  runningTasks: number;
  metrics: AgentMetrics | null;
  /** Who set the current state: the agent itself, the heartbeat enforcer, or an admin. */
  stateSource: StateSource;
  /** Why the agent is in its current state (the reason of the event that set it); null for rows older than it. */
  stateReason: string | null;
  /**
   * When the supervisor last asked the agent to recycle its Redis connections (epoch ms), null when it has not
   * in the current stall episode. The worker acts when the value differs from the last one it acted on.
   */
  recycleRequestedAt: number | null;
  /**
   * How the agent reaches the fleet: `redis`, a Node worker consuming its pool's queue; `http`, an agent of the
   * HTTP protocol, for which the supervisor claims in SQL. Rows from before the column read `redis`.
   */
  transport: AgentTransport;
  /** What an HTTP agent said about itself at registration (a small JSON object), null when nothing. */
  metadata: Record<string, unknown> | null;
}

/**
 * The ids an HTTP agent may register under, and the prefixes an agent key may be bound to: what fits a URL path
 * segment unescaped and an audit target (a Node worker's default id, host-pid-random, fits too).
 */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
export const AGENT_ID_RULE =
  '1 to 200 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

export const AGENT_TRANSPORTS = ['redis', 'http'] as const;
export type AgentTransport = (typeof AGENT_TRANSPORTS)[number];

export const STATE_SOURCES = ['agent', 'enforcer', 'admin'] as const;
export type StateSource = (typeof STATE_SOURCES)[number];

export interface AgentEvent {
  seq: number;
  agentId: string;
  at: number;
  fromState: AgentState | null;
  toState: AgentState;
  reason: string;
}

/** An admin's change of an agent's settings: each field left out stays as it is. */
export interface AgentSettingsChange {
  /** A number of slots (1..1000), or null for the agent's own registered concurrency. */
  concurrency?: number | null;
  /** The complete list of disabled types (replaces the stored one). */
  disabledTypes?: string[];
}

/**
 * The reason of the agent event a settings change leaves, e.g. `settings by ops: concurrency 8 → 2; disabled
 * types: sleep`. Null when nothing changes.
 */
export function describeSettingsChange(
  before: Pick<AgentRecord, 'desiredConcurrency' | 'disabledTypes'>,
  after: Pick<AgentRecord, 'desiredConcurrency' | 'disabledTypes'>,
  by: string,
): string | null {
  const parts: string[] = [];
  const slots = (n: number | null) => (n === null ? 'as registered' : String(n));
  if (before.desiredConcurrency !== after.desiredConcurrency) {
    parts.push(`concurrency ${slots(before.desiredConcurrency)} → ${slots(after.desiredConcurrency)}`);
  }
  if (before.disabledTypes.join(',') !== after.disabledTypes.join(',')) {
    parts.push(`disabled types: ${after.disabledTypes.length > 0 ? after.disabledTypes.join(', ') : 'none'}`);
  }
  return parts.length > 0 ? `settings by ${by}: ${parts.join('; ')}` : null;
}

/** The types an agent serves: the ones it registered with, less the disabled ones. */
export function servedTypes(registered: readonly string[], disabled: readonly string[]): string[] {
  const off = new Set(disabled);
  return registered.filter((t) => !off.has(t));
}

/** An agent counts as live for routing while it accepts work and has heartbeated within `staleAfterMs`. */
export function isLive(
  agent: Pick<AgentRecord, 'state' | 'lastHeartbeatAt'>,
  now: number,
  staleAfterMs: number,
): boolean {
  return ACCEPTING_STATES.has(agent.state) && now - agent.lastHeartbeatAt <= staleAfterMs;
}

/** One point of an agent's metrics history (a sample a minute; see src/supervisor/agentMetrics.ts). */
export interface AgentSample {
  agentId: string;
  /** The sample's time: the start of its interval (epoch ms). */
  at: number;
  runningTasks: number;
  concurrency: number;
  cpuPercent: number | null;
  rssBytes: number | null;
  /** How old the agent's last heartbeat was when the sample was taken. */
  heartbeatAgeMs: number;
}
