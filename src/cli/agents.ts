/**
 * `taskfleet agents list | set`: the typed client (src/client) with TASKFLEET_URL and TASKFLEET_API_KEY. `set`
 * changes an agent's settings (an admin key), which it applies at its next heartbeat, without a restart.
 */
import type { AgentView } from '../client';
import type { Config } from '../config/config';
import { clientOf, explained } from './client';

export interface AgentsSetOptions {
  /** A number of slots, or `own` for the concurrency the agent registered with. */
  concurrency?: number | 'own';
  disableType: string[];
  enableType: string[];
}

/** The disabled types after the change: the current ones, plus `disable`, less `enable`; sorted. */
export function nextDisabled(
  current: readonly string[],
  disable: readonly string[],
  enable: readonly string[],
): string[] {
  const off = new Set([...current, ...disable]);
  for (const t of enable) off.delete(t);
  return [...off].sort();
}

function line(a: AgentView): string {
  const slots = a.desiredConcurrency == null ? `${a.concurrency}` : `${a.concurrency} (asked ${a.desiredConcurrency})`;
  const disabled = a.disabledTypes.length > 0 ? `  disabled: ${a.disabledTypes.join(',')}` : '';
  return `  ${a.id.padEnd(28)} ${a.state.padEnd(10)} slots ${slots}  types ${a.types.join(',')}${disabled}`;
}

export async function runAgentsList(config: Config, o: { json?: boolean }): Promise<void> {
  const agents = await explained(config, () => clientOf(config).agents());
  if (o.json) {
    console.log(JSON.stringify(agents, null, 2));
    return;
  }
  console.log(`agents (${agents.length})`);
  for (const a of agents) console.log(line(a));
}

export async function runAgentsSet(config: Config, id: string, o: AgentsSetOptions): Promise<void> {
  if (o.concurrency === undefined && o.disableType.length === 0 && o.enableType.length === 0) {
    throw new Error('name --concurrency, --disable-type or --enable-type');
  }
  const client = clientOf(config);
  const agent = await explained(config, async () => {
    // Types are changed against the stored list, so one type can be switched without naming the others.
    const types =
      o.disableType.length + o.enableType.length > 0
        ? { disabledTypes: nextDisabled((await client.agent(id)).disabledTypes, o.disableType, o.enableType) }
        : {};
    const concurrency =
      o.concurrency === undefined ? {} : { concurrency: o.concurrency === 'own' ? null : o.concurrency };
    return client.updateAgent(id, { ...concurrency, ...types });
  });
  console.log(line(agent));
  console.log('  the agent applies it at its next heartbeat');
}
