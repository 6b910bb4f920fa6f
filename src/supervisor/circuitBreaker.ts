/**
 * The circuit breakers (src/domain/routeControl.ts `applyOutcome`): each supervisor reads the task event log
 * through its TaskWatcher while any task type has a breaker, and applies the attempt outcomes of those types to
 * their routes' circuits in SQL.
 *
 * Every supervisor sees every event, and each applies it with a conditional write (the route's stored circuit
 * and the seq of the last outcome applied): whichever comes first applies an outcome, the others find it applied
 * and skip it, so each outcome counts once. A supervisor that falls behind another skips what it already did.
 * What the watcher reads is only from the supervisor's start on: outcomes recorded while no supervisor ran are
 * not counted, but a probe that finished then is still judged (the gate's check of half-open routes, below).
 */
import type { Logger } from 'pino';
import { parseRouteKey } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import { applyOutcome, type AttemptOutcome, type CircuitStep, type RouteControl } from '../domain/routeControl';
import type { TaskEvent } from '../domain/task';
import type { Store } from '../store/port';
import type { RouteGate } from './routeGate';
import type { TaskWatcher } from './taskWatcher';

/** Outcome kinds: the attempt succeeded, or failed (its handler threw, or its lease ran out). */
const OUTCOMES: Readonly<Record<string, boolean>> = { succeeded: true, failed: false, lease_expired: false };
/** The probe left without an outcome: another task may probe. */
const PROBE_GONE = new Set(['cancelled', 'released', 'lease_reclaimed', 'expired']);

export interface CircuitBreakersOptions {
  store: Store;
  watcher: TaskWatcher;
  gate: RouteGate;
  clock: Clock;
  log: Logger;
}

export class CircuitBreakers {
  private unwatch: (() => void) | null = null;
  private queue: TaskEvent[] = [];
  private working: Promise<void> | null = null;

  constructor(private readonly opts: CircuitBreakersOptions) {
    opts.gate.onRead(() => this.follow());
  }

  /** Reads the event log while some type has a breaker, not otherwise (the watcher then reads only the head). */
  private follow(): void {
    const wanted = this.opts.gate.breakerTypes > 0;
    if (wanted && !this.unwatch) {
      this.unwatch = this.opts.watcher.watchFleet({
        event: (e) => this.take(e),
        closed: () => {
          this.unwatch = null;
        },
      });
    } else if (!wanted && this.unwatch) {
      this.unwatch();
      this.unwatch = null;
    }
    void this.checkProbes().catch((err: unknown) => this.opts.log.warn({ err }, 'could not check circuit probes'));
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  /** Resolves once every event taken so far is applied (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.working) await this.working;
  }

  private take(e: TaskEvent): void {
    if (!(e.kind in OUTCOMES) && !PROBE_GONE.has(e.kind)) return;
    this.queue.push(e);
    this.working ??= this.drain().finally(() => {
      this.working = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.apply(batch);
      } catch (err) {
        this.opts.log.warn({ err }, 'could not apply task outcomes to circuit breakers');
      }
    }
  }

  private async apply(events: TaskEvent[]): Promise<void> {
    const { store, gate } = this.opts;
    const heads = new Map((await store.listTaskHeads(events.map((e) => e.taskId))).map((h) => [h.id, h]));
    const byRoute = new Map<string, TaskEvent[]>();
    for (const e of events) {
      const head = heads.get(e.taskId);
      if (!head || !gate.breakerOf(head.type)) continue;
      const list = byRoute.get(head.routeKey) ?? [];
      list.push(e);
      byRoute.set(head.routeKey, list);
    }
    for (const [routeKey, list] of byRoute) await this.applyToRoute(routeKey, list);
  }

  /** Applies the route's events in order, re-reading its circuit when another supervisor moved it first. */
  private async applyToRoute(routeKey: string, events: TaskEvent[]): Promise<void> {
    const { store, gate, clock, log } = this.opts;
    const breaker = gate.breakerOf(parseRouteKey(routeKey).type);
    if (!breaker) return;
    for (let tries = 0; tries < 5; tries++) {
      let c: RouteControl | null = await store.getRouteControl(routeKey);
      if (!c) return;
      const start = c;
      let event: CircuitStep['event'] = null;
      for (const e of events) {
        if (e.seq <= c.outcomesSeq) continue;
        if (e.kind in OUTCOMES) {
          const outcome: AttemptOutcome = { seq: e.seq, taskId: e.taskId, ok: OUTCOMES[e.kind]!, at: e.at };
          const step = applyOutcome(c, outcome, breaker);
          c = { ...c, ...step.next };
          // Several changes in one batch are written as the last, with its event; the rest never showed.
          if (step.event) event = step.event;
        } else if (c.circuit === 'half_open' && c.probeTaskId === e.taskId) {
          c = { ...c, probeTaskId: null, outcomesSeq: e.seq };
        } else {
          c = { ...c, outcomesSeq: e.seq };
        }
      }
      if (c.outcomesSeq === start.outcomesSeq) return;
      const now = clock.now();
      const written = await store.updateRouteCircuit({
        routeKey,
        expect: { circuit: start.circuit, outcomesSeq: start.outcomesSeq },
        next: c,
        event,
        now,
      });
      if (written) {
        if (event) log.warn({ route: routeKey, circuit: c.circuit, ...event.data }, `circuit ${event.kind}`);
        if (event) gate.poke();
        return;
      }
    }
    log.warn({ route: routeKey }, 'circuit breaker: gave up applying outcomes after repeated conflicts');
  }

  /**
   * A half-open route whose probe is no longer running (it finished while no supervisor read the log, or its
   * outcome event was missed): judged from the task itself.
   */
  private async checkProbes(): Promise<void> {
    const { store, gate, clock } = this.opts;
    for (const c of gate.all().values()) {
      if (c.circuit !== 'half_open' || c.probeTaskId === null) continue;
      const task = await store.getTask(c.probeTaskId);
      if (task?.status === 'running') continue;
      const ok = task?.status === 'succeeded';
      const now = clock.now();
      const probeGone = !task || task.status === 'queued' || task.status === 'cancelled';
      await store.updateRouteCircuit({
        routeKey: c.routeKey,
        expect: { circuit: 'half_open', outcomesSeq: c.outcomesSeq },
        next: probeGone
          ? { ...c, probeTaskId: null }
          : ok
            ? { circuit: 'closed', circuitAt: now, probeTaskId: null, outcomes: '', outcomesSeq: c.outcomesSeq }
            : { circuit: 'open', circuitAt: now, probeTaskId: null, outcomes: c.outcomes, outcomesSeq: c.outcomesSeq },
        event: probeGone
          ? null
          : { kind: ok ? 'circuit_closed' : 'circuit_opened', data: { probe: c.probeTaskId, status: task?.status } },
        now,
      });
    }
  }
}
