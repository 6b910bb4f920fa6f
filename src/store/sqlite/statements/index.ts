/**
 * Every statement of the SQLite adapter, prepared once per connection, by concern (the same concerns and
 * module names as `mssql/statements/`).
 */
import type { Database } from 'better-sqlite3';
import { prepareAgentStatements } from './agents';
import { prepareBackgroundStatements } from './background';
import { prepareFleetStatements } from './fleet';
import { prepareLeaseStatements } from './lease';
import { prepareLogStatements } from './logs';
import { preparePoolStatements } from './pools';
import { preparePurgeStatements } from './purge';
import { prepareRetryStatements } from './retry';
import { prepareRouteControlStatements } from './routeControls';
import { prepareRouteMinuteStatements } from './routeMinutes';
import { prepareScheduleStatements } from './schedules';
import { prepareSchemaStatements } from './schema';
import { prepareSecurityStatements } from './security';
import { prepareTaskStatements } from './tasks';
import { prepareWebhookStatements } from './webhooks';
import { prepareWorkflowStatements } from './workflows';

export function prepareStatements(db: Database) {
  return {
    tasks: prepareTaskStatements(db),
    lease: prepareLeaseStatements(db),
    background: prepareBackgroundStatements(db),
    agents: prepareAgentStatements(db),
    fleet: prepareFleetStatements(db),
    security: prepareSecurityStatements(db),
    pools: preparePoolStatements(db),
    logs: prepareLogStatements(db),
    retry: prepareRetryStatements(db),
    schema: prepareSchemaStatements(db),
    webhooks: prepareWebhookStatements(db),
    schedules: prepareScheduleStatements(db),
    purge: preparePurgeStatements(db),
    routeControls: prepareRouteControlStatements(db),
    workflows: prepareWorkflowStatements(db),
    routeMinutes: prepareRouteMinuteStatements(db),
  };
}

export type SqliteStatements = ReturnType<typeof prepareStatements>;
