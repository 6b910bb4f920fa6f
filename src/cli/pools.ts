/**
 * `taskfleet pools list | declare | remove`: thin HTTP clients of `/v1/pools` (TASKFLEET_URL, TASKFLEET_API_KEY;
 * declaring and removing need an admin key).
 */
import type { Config } from '../config/config';
import { call } from './client';

interface PoolView {
  key: string;
  capabilities: string[];
  types: string[];
  declared: boolean;
  declaredBy?: string;
  declaredAt?: string;
  note?: string;
  workers: number;
  slots: number;
  running: number;
  freeSlots: number;
  backlog: number;
}

function line(p: PoolView): string {
  const origin = p.declared ? `declared by ${p.declaredBy ?? '?'}${p.workers > 0 ? ', learned' : ''}` : 'learned';
  return (
    `  ${p.key.padEnd(32)} ${String(p.workers).padStart(3)} workers  ${p.running}/${p.slots} running, ` +
    `${p.freeSlots} free  backlog ${p.backlog}  (${origin})${p.note ? `  ${p.note}` : ''}`
  );
}

export async function runPoolsList(config: Config, o: { json?: boolean }): Promise<void> {
  const { pools } = (await call(config, 'GET', '/v1/pools')) as { pools: PoolView[] };
  if (o.json) {
    console.log(JSON.stringify(pools, null, 2));
    return;
  }
  console.log(`pools (${pools.length})`);
  for (const p of pools) console.log(line(p));
}

export async function runPoolsDeclare(
  config: Config,
  o: { capabilities: string[]; types: string[]; note?: string },
): Promise<void> {
  const body = { capabilities: o.capabilities, types: o.types, ...(o.note === undefined ? {} : { note: o.note }) };
  const pool = (await call(config, 'POST', '/v1/pools', body)) as unknown as PoolView;
  console.log(JSON.stringify(pool, null, 2));
}

export async function runPoolsRemove(config: Config, key: string): Promise<void> {
  await call(config, 'DELETE', `/v1/pools/${encodeURIComponent(key)}`);
  console.log(`removed the declaration of pool ${key}`);
}
