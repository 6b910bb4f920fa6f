/**
 * The pure parts of `npm run bench:shape` (shapeMain.ts): the routes a worker is offered, whose Redis
 * connections are whose, and the share of generic tasks that ran on the general worker while it had room.
 */

/** Every subset of `items` (2^n of them, the empty one first), each in the order of `items`. */
export function subsets<T>(items: readonly T[]): T[][] {
  if (items.length > 16) throw new Error(`subsets: ${items.length} items would make ${2 ** items.length} subsets`);
  const all: T[][] = [];
  for (let mask = 0; mask < 2 ** items.length; mask++) all.push(items.filter((_, i) => (mask >> i) & 1));
  return all;
}

/** One task per route: each type with each subset of the capabilities as its requirements. */
export function routeTasks(
  types: readonly string[],
  capabilities: readonly string[],
  payloadOf: (type: string) => unknown,
): Array<{ type: string; payload: unknown; requiredCapabilities: string[] }> {
  return types.flatMap((type) =>
    subsets(capabilities).map((requiredCapabilities) => ({ type, payload: payloadOf(type), requiredCapabilities })),
  );
}

/** One client of Redis's CLIENT LIST. */
export interface RedisClient {
  id: string;
  /** The client's own address (host:port), as Redis sees it. */
  addr: string;
  name: string;
}

/** Parses the text of CLIENT LIST (one client a line, `key=value` fields separated by spaces). */
export function parseClientList(text: string): RedisClient[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const fields = new Map<string, string>();
      for (const part of line.split(' ')) {
        const eq = part.indexOf('=');
        if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
      }
      return { id: fields.get('id') ?? '', addr: fields.get('addr') ?? '', name: fields.get('name') ?? '' };
    });
}

/** The local TCP ports of the sockets with the given inodes, from the text of /proc/<pid>/net/tcp(6). */
export function localPortsOf(procNetTcp: string, inodes: ReadonlySet<string>): Set<number> {
  const ports = new Set<number>();
  for (const line of procNetTcp.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const local = cols[1];
    const inode = cols[9];
    if (!local || !inode || !inodes.has(inode)) continue;
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

/** A worker's Redis connections, by what opened them. */
export interface WorkerConnections {
  total: number;
  /** Named by the worker itself: `taskfleet-worker-<id>` (commands) and `…-producer`. */
  worker: number;
  /** Named by BullMQ: its consumers' blocking connections, renamed after their queue (`<prefix>:…`). */
  bullmq: number;
  /** Anything else the worker's process holds (unnamed, or named otherwise). */
  other: number;
}

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));

/**
 * The clients that belong to the worker `agentId`. With `ports` (the worker process's own local ports, when
 * Redis runs on this machine), a client is the worker's exactly when its address is one of them, whatever its
 * name; without, by name alone: the worker's names, and BullMQ's under the fleet's private `prefix` (so only
 * right when that worker is the only process of the fleet that consumes).
 */
export function workerConnections(
  clients: readonly RedisClient[],
  agentId: string,
  prefix: string,
  ports?: ReadonlySet<number>,
): WorkerConnections {
  const own = `taskfleet-worker-${agentId}`;
  const counts: WorkerConnections = { total: 0, worker: 0, bullmq: 0, other: 0 };
  for (const c of clients) {
    const byName =
      c.name === own || c.name.startsWith(`${own}-`) ? 'worker' : c.name.startsWith(`${prefix}:`) ? 'bullmq' : null;
    if (ports ? !ports.has(portOf(c.addr)) : byName === null) continue;
    counts.total++;
    counts[byName ?? 'other']++;
  }
  return counts;
}

/** A finished task, as the placement figure reads it (times in ms). */
export interface PlacedTask {
  agentId: string | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface Placement {
  /** Tasks that started while the general worker ran fewer than `concurrency` other tasks. */
  withRoom: number;
  /** Of those, the ones that ran on the general worker. */
  onGeneral: number;
  /** onGeneral ÷ withRoom (NaN when none had room). */
  share: number;
  /** Where every task ran: agent id → tasks. */
  byAgent: Record<string, number>;
}

/**
 * The share of tasks placed on the general worker among those that started while it had a free slot: at the
 * moment a task started, fewer than `concurrency` other tasks were running on the general worker.
 */
export function placementShare(tasks: readonly PlacedTask[], generalId: string, concurrency: number): Placement {
  const general = tasks.filter((t) => t.agentId === generalId && t.startedAt !== null);
  const byAgent: Record<string, number> = {};
  let withRoom = 0;
  let onGeneral = 0;
  for (const t of tasks) {
    const agent = t.agentId ?? 'none';
    byAgent[agent] = (byAgent[agent] ?? 0) + 1;
    if (t.startedAt === null) continue;
    const at = t.startedAt;
    const busy = general.filter(
      (g) => g !== t && g.startedAt! <= at && (g.finishedAt === null || g.finishedAt > at),
    ).length;
    if (busy >= concurrency) continue;
    withRoom++;
    if (t.agentId === generalId) onGeneral++;
  }
  return { withRoom, onGeneral, share: withRoom === 0 ? NaN : onGeneral / withRoom, byAgent };
}
