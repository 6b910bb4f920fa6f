/**
 * `taskfleet routes list | show | pause | resume | limit` and `taskfleet breakers list | set | remove`: thin HTTP
 * clients of `/v1/routes` and `/v1/circuit-breakers` (TASKFLEET_URL, TASKFLEET_API_KEY; changes need an admin key).
 */
import type { Config } from '../config/config';
import { ValidationError } from '../domain/errors';
import { call } from './client';

interface RouteView {
  route: string;
  state: string;
  queued?: number;
  running?: number;
  settings: { rateLimit: number | null; concurrencyCap: number | null };
  circuit: { state: string; recent: string } | null;
}

const path = (key: string) => `/v1/routes/${encodeURIComponent(key)}`;

function line(r: RouteView): string {
  const limits = [
    r.settings.rateLimit === null ? null : `${r.settings.rateLimit}/s`,
    r.settings.concurrencyCap === null ? null : `cap ${r.settings.concurrencyCap}`,
    r.circuit ? `circuit ${r.circuit.state} [${r.circuit.recent}]` : null,
  ].filter((x) => x !== null);
  const figures = r.queued === undefined ? '' : `queued ${r.queued}, running ${r.running ?? 0}  `;
  return `  ${r.route.padEnd(32)} ${r.state.padEnd(13)} ${figures}${limits.join(', ')}`;
}

export async function runRoutesList(config: Config, o: { json?: boolean }): Promise<void> {
  const { routes } = (await call(config, 'GET', '/v1/routes?limit=1000')) as { routes: RouteView[] };
  if (o.json) {
    console.log(JSON.stringify(routes, null, 2));
    return;
  }
  console.log(`routes (${routes.length})`);
  for (const r of routes) console.log(line(r));
}

export async function runRoutesShow(config: Config, key: string): Promise<void> {
  console.log(JSON.stringify(await call(config, 'GET', path(key)), null, 2));
}

export async function runRoutesAction(config: Config, key: string, action: 'pause' | 'resume'): Promise<void> {
  console.log(line((await call(config, 'POST', `${path(key)}/${action}`)) as unknown as RouteView).trim());
}

/** `--rate` and `--cap` take a number, or `none` to remove the setting. */
export async function runRoutesLimit(config: Config, key: string, o: { rate?: string; cap?: string }): Promise<void> {
  const setting = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (v === 'none') return null;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new ValidationError([{ field: flag, message: 'a number > 0, or none' }]);
    return n;
  };
  const body = { rateLimit: setting('--rate', o.rate), concurrencyCap: setting('--cap', o.cap) };
  console.log(line((await call(config, 'PATCH', path(key), body)) as unknown as RouteView).trim());
}

export async function runBreakersList(config: Config): Promise<void> {
  const { breakers } = (await call(config, 'GET', '/v1/circuit-breakers')) as {
    breakers: Array<{ type: string; failures: number; window: number; cooldownMs: number }>;
  };
  console.log(`circuit breakers (${breakers.length})`);
  for (const b of breakers) {
    console.log(
      `  ${b.type.padEnd(24)} opens at ${b.failures} of the last ${b.window} failed; cool-down ${b.cooldownMs} ms`,
    );
  }
}

export async function runBreakersSet(
  config: Config,
  type: string,
  o: { failures: number; window: number; cooldownMs: number },
): Promise<void> {
  const body = { failures: o.failures, window: o.window, cooldownMs: o.cooldownMs };
  console.log(JSON.stringify(await call(config, 'PUT', `/v1/circuit-breakers/${encodeURIComponent(type)}`, body)));
}

export async function runBreakersRemove(config: Config, type: string): Promise<void> {
  await call(config, 'DELETE', `/v1/circuit-breakers/${encodeURIComponent(type)}`);
  console.log(`removed the circuit breaker of ${type}`);
}
