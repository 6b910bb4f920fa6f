/**
 * Counts the passes of a supervisor's background step (the reconciler, the heartbeat enforcer), so that a test
 * can wait for "three more passes" rather than sleep for about as long as it guesses they take. That matters
 * most where a test checks that something does NOT happen: the passes prove that the step had its chances.
 *
 * It wraps the method on the instance (the supervisor's loops call it through the instance), for the rest of
 * that instance's life.
 */
type Step<R> = () => Promise<R>;

type Listener<R> = (index: number, result: R) => void;

export interface Passes<R> {
  /**
   * Resolves with the results of the next `n` passes that start after this call and that `counts` accepts
   * (every pass by default); rejects after `timeoutMs`, saying how many it saw.
   */
  next(n: number, what: string, counts?: (result: R) => boolean, timeoutMs?: number): Promise<R[]>;
}

export function countPasses<K extends string, R>(target: { [key in K]: Step<R> }, method: K): Passes<R> {
  const original = target[method].bind(target);
  const listeners = new Set<Listener<R>>();
  let started = 0;
  target[method] = async () => {
    const index = started++;
    const result = await original();
    for (const listener of [...listeners]) listener(index, result);
    return result;
  };
  return {
    next: (n, what, counts = () => true, timeoutMs = 10_000) =>
      new Promise<R[]>((resolve, reject) => {
        const from = started;
        const seen: R[] = [];
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen.length} of ${n} passes)`));
        }, timeoutMs);
        const listener: Listener<R> = (index, result) => {
          if (index < from || !counts(result)) return;
          seen.push(result);
          if (seen.length < n) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(seen);
        };
        listeners.add(listener);
      }),
  };
}
