/**
 * Where a dispatch goes. Each worker pool (src/domain/pool.ts) has one BullMQ queue, named by its pool key, and
 * a worker consumes its own pool's queue only: its Redis connections stay constant whatever routes submitters
 * invent. The supervisor places each task on the tightest pool that covers it (PoolPlacement,
 * src/supervisor/poolPlacement.ts); a worker sends what it re-dispatches (a retry, the rest of a batch) to its
 * own pool (WorkerRuntime's `ownPool`).
 *
 * A route that no known pool covers parks its doorbells in the queue named by its route key, which no worker
 * consumes (a route key has the form of a pool key: `echo~` is also the key of a pool of `echo` workers without
 * capabilities, which does consume it). Parked doorbells count as present for the reconciler only while the
 * route stays uncovered; once a pool covers it they count as missing and are re-sent to the pool. The per-route
 * queues of versions before pools are parking queues too, so their doorbells move to pools the same way.
 */
import { routeKey, type Route } from '../domain/capabilities';

export interface Placement {
  /**
   * The queue for a task of `route` sent now. `counted` says whether it takes a slot now (a task due now) or
   * later (a delayed one), for a placement that keeps count of the pools' free slots. Null when no queue is
   * needed: only HTTP agents cover the route, and they are claimed for from SQL, without a doorbell.
   */
  place(route: Route, counted: boolean): string | null;
  /**
   * The queues a doorbell of `route` may sit in and still be consumed from: where presence is checked. Empty
   * when the route needs none (see `place`).
   */
  queuesFor(route: Route): readonly string[];
  /** Whether HTTP agents cover `route`: its due tasks ring the work doorbell (src/dispatch/notify.ts). */
  pulls?(route: Route): boolean;
  /** Called before tasks of `routes` are placed (every send): the placement brings its view of the pools up to date. */
  prepare?(routes?: readonly Route[]): Promise<void>;
}

/** The parking queue of a route (and the queue of every version before pools). */
export function routeQueue(route: Route): string {
  return routeKey(route.type, route.capabilities);
}

/** Parks every dispatch in its route's queue: what a dispatcher without a placement does. */
export const parking: Placement = {
  place: (route) => routeQueue(route),
  queuesFor: (route) => [routeQueue(route)],
};
