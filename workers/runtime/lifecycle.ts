/**
 * The words of a worker's life: its states, the transitions between them, and the events it emits.
 *
 *   created ─start─▶ starting ──▶ running ─drain─▶ draining ──▶ stopping ──▶ stopped
 *                       │             └───────────stop───────────────▲
 *                       └───────start failed (what it opened is released)
 *
 * `draining` takes no new work and lets running tasks finish within the drain timeout; `stopping` hands back
 * what still runs, records the agent stopped and releases every connection. A worker is started once.
 */
import type { EventEmitter } from 'node:events';
import type { AgentState } from '../../src/domain/agent';
import type { TaskRecord } from '../../src/domain/task';

export const WORKER_STATES = ['created', 'starting', 'running', 'draining', 'stopping', 'stopped'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

const NEXT_STATES: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  created: ['starting'],
  starting: ['running', 'stopping'],
  running: ['draining', 'stopping'],
  draining: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

export function canMoveTo(from: WorkerState, to: WorkerState): boolean {
  return NEXT_STATES[from].includes(to);
}

/** How a task's run ended, as the worker saw it (what it then recorded, or tried to). */
export type RunOutcome = 'succeeded' | 'failed' | 'timeout' | 'cancelled' | 'lease_lost' | 'released';

/**
 * The events of a worker, each with its arguments. Emitting one that nobody listens to costs a property
 * lookup, so the hot path emits them unconditionally and allocates nothing for them.
 */
export interface WorkerEventMap {
  /** The worker moved from one state to another. */
  state: [to: WorkerState, from: WorkerState];
  /** The registry's state for this agent now keeps it from taking work (or, with null, no longer does). */
  held: [state: AgentState | null];
  /** A claim succeeded: the handler is about to run this attempt. */
  'task-started': [task: TaskRecord];
  /** The attempt ended and its outcome was written (or refused by the store, or could not be written). */
  'task-finished': [task: TaskRecord, outcome: RunOutcome];
  /** No handler is running any more (a drain waits for this). */
  idle: [];
}

export type WorkerEvents = EventEmitter<WorkerEventMap>;

/** The worker's events as its users see them: they listen, only the worker emits. */
export type WorkerEventSource = Pick<WorkerEvents, 'on' | 'once' | 'off' | 'listenerCount'>;

/**
 * Resolves with the arguments of the next `name` event that `accept` accepts (any, without it). Listens only
 * until then.
 */
export function nextEvent<K extends keyof WorkerEventMap>(
  events: WorkerEventSource,
  name: K,
  accept: (...args: WorkerEventMap[K]) => boolean = () => true,
): Promise<WorkerEventMap[K]> {
  return new Promise((resolve) => {
    // EventEmitter<T>'s listener type is a conditional type that a generic K cannot narrow; the cast is the
    // listener it would infer for a concrete K.
    const listener = ((...args: WorkerEventMap[K]) => {
      if (!accept(...args)) return;
      events.off(name, listener);
      resolve(args);
    }) as never;
    events.on(name, listener);
  });
}

/** A start, drain or stop asked of a worker in a state that does not allow it. */
export class WorkerStateError extends Error {
  constructor(
    readonly action: 'start' | 'drain' | 'stop',
    readonly state: WorkerState,
  ) {
    super(`cannot ${action} a worker that is ${state}`);
    this.name = 'WorkerStateError';
  }
}

/** The current state, changed only along NEXT_STATES; every change is emitted as a `state` event. */
export class Lifecycle {
  private current: WorkerState = 'created';

  constructor(private readonly events: WorkerEvents) {}

  get state(): WorkerState {
    return this.current;
  }

  moveTo(to: WorkerState): void {
    const from = this.current;
    if (!canMoveTo(from, to)) throw new Error(`a worker cannot go from ${from} to ${to}`);
    this.current = to;
    this.events.emit('state', to, from);
  }
}
