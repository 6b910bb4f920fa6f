/**
 * Readiness for a store that cannot look at its own free space (Azure SQL: the size quota and the files'
 * room are the server's). A write that failed for lack of space (StoreFullError) makes ping() reject with
 * that error for `windowMs` afterwards; every further such failure starts the window again, so /readyz stays
 * 503 while writes keep failing and turns 200 by itself once they have stopped failing for a while. The
 * embedded store does better (it asks its file system) and is not wrapped.
 */
import { isStoreFull } from '../domain/errors';
import type { Store } from './port';

export const STORE_FULL_WINDOW_MS = 30_000;

export function watchStoreSpace(store: Store, windowMs = STORE_FULL_WINDOW_MS, now = () => Date.now()): Store {
  let last: { err: unknown; at: number } | null = null;
  const note = (err: unknown): never => {
    if (isStoreFull(err)) last = { err, at: now() };
    throw err;
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'ping') {
        return async () => {
          await target.ping();
          if (last && now() - last.at < windowMs) throw last.err;
          last = null;
        };
      }
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.catch(note) : result;
      };
    },
  });
}
