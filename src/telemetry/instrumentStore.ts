/**
 * Reports every store call as a SQL dependency (the mssql driver is not instrumented automatically, and
 * better-sqlite3 never is): one wrapper for both adapters, so each call's duration and outcome appear in
 * Application Insights' dependencies.
 */
import type { Store } from '../store/port';
import type { Telemetry } from './telemetry';

export function instrumentStore(store: Store, telemetry: Telemetry): Store {
  if (!telemetry.enabled) return store;
  const target = store.kind;
  return new Proxy(store, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function' || prop === 'close' || typeof prop !== 'string') return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        let success = false;
        try {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
          success = true;
          return result;
        } finally {
          telemetry.dependency({ type: 'SQL', name: prop, target, durationMs: performance.now() - started, success });
        }
      };
    },
  });
}
