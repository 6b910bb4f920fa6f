#!/usr/bin/env node
'use strict';
/**
 * Builds infra/observability/workbook.json (an Azure Monitor workbook) from the KQL files beside it, so the
 * queries live once, in files you can paste into Logs. Run `npm run workbook` after editing a .kql file;
 * test/repo/observability.test.ts fails when the workbook is out of date.
 */
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'infra', 'observability');
const PANELS = [
  ['Throughput', 'throughput.kql', 'timechart'],
  ['Latency percentiles', 'latency-percentiles.kql', 'timechart'],
  ['Backlog by capability set', 'backlog-by-capability-set.kql', 'timechart'],
  ['Agents by state and utilisation', 'agents-by-state.kql', 'timechart'],
  ['Failures and dead tasks', 'failures-and-dead.kql', 'table'],
  ['Heartbeat age', 'heartbeat-age.kql', 'timechart'],
];

function workbook() {
  return {
    version: 'Notebook/1.0',
    items: [
      {
        type: 1,
        content: { json: '# taskfleet\nThroughput, latency, backlog, agents, failures and heartbeats of the fleet.' },
        name: 'title',
      },
      ...PANELS.map(([title, file, visualization], i) => ({
        type: 3,
        name: `panel-${i}`,
        content: {
          version: 'KqlItem/1.0',
          title,
          query: fs.readFileSync(path.join(dir, 'kql', file), 'utf8').trim(),
          size: 0,
          timeContext: { durationMs: 3600000 },
          queryType: 0,
          resourceType: 'microsoft.insights/components',
          visualization,
        },
      })),
    ],
    $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
  };
}

if (require.main === module) {
  fs.writeFileSync(path.join(dir, 'workbook.json'), `${JSON.stringify(workbook(), null, 2)}\n`);
  console.log('wrote infra/observability/workbook.json');
}

module.exports = { workbook, PANELS };
