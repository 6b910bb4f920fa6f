import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = path.join(__dirname, '..', '..', 'infra', 'observability');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { workbook, PANELS } = require('../../scripts/build-workbook.js') as {
  workbook: () => unknown;
  PANELS: Array<[string, string, string]>;
};

describe('dashboards and alerts as code', () => {
  it('keeps workbook.json in step with the KQL files (run `npm run workbook`)', () => {
    expect(JSON.parse(readFileSync(path.join(dir, 'workbook.json'), 'utf8'))).toEqual(workbook());
  });

  it('has a panel for throughput, latency, backlog, agents, failures and heartbeat age', () => {
    expect(PANELS.map((p) => p[1]).sort()).toEqual([
      'agents-by-state.kql',
      'backlog-by-capability-set.kql',
      'failures-and-dead.kql',
      'heartbeat-age.kql',
      'latency-percentiles.kql',
      'throughput.kql',
    ]);
  });

  it('deploys an alert rule for every alert query, each naming an existing file', () => {
    const bicep = readFileSync(path.join(dir, 'alerts.bicep'), 'utf8');
    const referenced = [...bicep.matchAll(/loadTextContent\('([^']+)'\)/g)].map((m) => m[1]!);
    for (const f of referenced) expect(existsSync(path.join(dir, f))).toBe(true);
    const alertFiles = readdirSync(path.join(dir, 'kql')).filter((f) => f.startsWith('alert-'));
    expect(alertFiles).toHaveLength(5);
    for (const f of alertFiles) expect(referenced).toContain(`kql/${f}`);
  });

  it('queries only event and metric names the code emits', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { TASK_EVENTS, METRICS } = require('../../src/telemetry/telemetry') as {
      TASK_EVENTS: readonly string[];
      METRICS: Record<string, string>;
    };
    const known = new Set([...TASK_EVENTS, 'AgentStateChanged', ...Object.values(METRICS)]);
    for (const f of readdirSync(path.join(dir, 'kql'))) {
      const text = readFileSync(path.join(dir, 'kql', f), 'utf8');
      const names = [...text.matchAll(/"((?:Task|Agent)[A-Za-z]+|taskfleet\.[a-z_]+)"/g)].map((m) => m[1]!);
      for (const n of names)
        expect({ file: f, name: n, known: known.has(n) }).toEqual({ file: f, name: n, known: true });
    }
  });
});
