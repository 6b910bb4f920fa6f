/**
 * What the benchmark prints and writes: the targets it checks, and the tables (systems side by side, the
 * seeded-store queries, the targets).
 */
import Table from 'cli-table3';
import type { BaselineComparison, CpuFigures, SystemFigures } from './figures';
import type { QueryFigures } from './queries';
import type { Figure } from './stats';

export interface Target {
  name: string;
  target: string;
  value: number | null;
  unit: string;
  met: boolean | null;
  required: boolean;
}

export function targets(
  systems: Record<string, SystemFigures>,
  ratios: Record<string, unknown>,
  q: QueryFigures | null,
): Target[] {
  const tf = systems.taskfleet;
  const m = (v: number | null | undefined, ok: (v: number) => boolean) =>
    v === null || v === undefined || !Number.isFinite(v) ? null : ok(v);
  const vsFast =
    systems.pgBossFast && tf ? tf.throughput.live.median / systems.pgBossFast.throughput.live.median : null;
  const vsBull = (ratios.vsBullmq as number | null) ?? null;
  const list: Array<Omit<Target, 'met'> & { ok: (v: number) => boolean }> = [
    {
      name: 'durable throughput vs raw BullMQ',
      target: '≥ 0.5×',
      value: vsBull,
      unit: '×',
      required: true,
      ok: (v) => v >= 0.5,
    },
    {
      name: 'throughput vs pg-boss at its high-throughput settings',
      target: '≥ 1.0×',
      value: vsFast,
      unit: '×',
      required: false,
      ok: (v) => v >= 1,
    },
    {
      name: 'dispatch latency submit → start p50 (idle fleet)',
      target: '≤ 3 ms',
      value: tf?.latency.submitToStart.p50Ms.median ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 3,
    },
    {
      name: 'dispatch latency submit → start p99 (idle fleet)',
      target: '≤ 10 ms',
      value: tf?.latency.submitToStart.p99Ms.median ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 10,
    },
    {
      name: 'batch submit rate',
      target: '≥ 20,000 tasks/s',
      value: tf?.batchSubmitPerSecond.median ?? null,
      unit: '/s',
      required: false,
      ok: (v) => v >= 20_000,
    },
    {
      name: `single submit p99 at ${tf?.singleSubmit.rate ?? 1000} requests/s`,
      target: '≤ 25 ms',
      value: tf?.singleSubmit.p99Ms.median ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 25,
    },
    {
      name: 'idle worker RSS',
      target: '≤ 80 MB (76.3 MiB)',
      value: tf?.memory.workerIdleMb.median ?? null,
      unit: 'MiB',
      required: false,
      ok: (v) => v <= 80e6 / 2 ** 20,
    },
    {
      name: `stats and list queries, ${q ? q.tasks.toLocaleString('en-US') : '1,000,000'} tasks (slowest median${q ? `: ${q.slowest}` : ''})`,
      target: '≤ 50 ms each',
      value: q?.slowestMedianMs ?? null,
      unit: 'ms',
      required: false,
      ok: (v) => v <= 50,
    },
  ];
  return list.map(({ ok, ...t }) => ({ ...t, met: m(t.value, ok) }));
}

export const fmt = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '—'
    : v >= 1000
      ? Math.round(v).toLocaleString('en-US')
      : v.toFixed(digits);
const fig = (f: Figure | null | undefined, digits = 1) =>
  !f || !Number.isFinite(f.median)
    ? '—'
    : f.runs.length > 1
      ? `${fmt(f.median, digits)} (${fmt(f.min, digits)}–${fmt(f.max, digits)})`
      : fmt(f.median, digits);

/** No colours unless printing to a terminal (a file or CI log gets plain text). */
const STYLE = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };

/** Column names; the legend under the table gives each configuration in full. */
const SHORT: Record<string, string> = {
  taskfleet: 'taskfleet',
  bullmq: 'BullMQ',
  pgBossFast: 'pg-boss fast',
  graphileFast: 'graphile fast',
  pgBossDefault: 'pg-boss dflt',
  graphileDefault: 'graphile dflt',
  'taskfleet@baseline': 'tf baseline',
};

type Row = (name: string, get: (s: SystemFigures) => string) => void;

/** The CPU rows: µs per task of each role (see the help text for what each counts). */
function cpuRows(row: Row): void {
  const role = (s: SystemFigures) => `${s.cpu.producerRole}: `;
  const workers = (c: CpuFigures) => c.workersUs.map((w) => fmt(w.median, 0)).join(' / ');
  row('CPU µs/task, live: supervisor (or producer)', (s) => role(s) + fig(s.cpu.live.producerUs, 0));
  row('CPU µs/task, live: each worker', (s) => workers(s.cpu.live));
  row('CPU µs/task, live: Redis (whole server, shared)', (s) => fig(s.cpu.live.redisUs, 0));
  row('CPU µs/task, live: total', (s) => fig(s.cpu.live.totalUs, 0));
  row('CPU µs/task, drain (start-up incl.): supervisor / each worker / Redis / total', (s) => {
    const d = s.cpu.drain;
    return [fmt(d.producerUs.median, 0), workers(d), fmt(d.redisUs?.median, 0), fmt(d.totalUs.median, 0)].join(' / ');
  });
  row('worker start-up CPU, ms', (s) => fig(s.cpu.workerStartupMs, 0));
}

function printSystems(systems: Record<string, SystemFigures>): void {
  const keys = Object.keys(systems);
  const table = new Table({ ...STYLE, head: ['median (min–max)', ...keys.map((k) => SHORT[k] ?? k)], wordWrap: true });
  const row: Row = (name, get) => table.push([name, ...keys.map((k) => get(systems[k]!))]);
  row('durable', (s) => (s.durable ? 'yes' : 'no'));
  row('tasks per measurement', (s) => s.tasks.toLocaleString('en-US'));
  row('tasks/s, workers running while tasks arrive', (s) => fig(s.throughput.live, 0));
  row('tasks/s, submit all then drain', (s) => fig(s.throughput.drain, 0));
  row('batch submit, tasks/s', (s) => fig(s.batchSubmitPerSecond, 0));
  row(`single submit at ${Object.values(systems)[0]?.singleSubmit.rate ?? 0}/s, p50 ms`, (s) =>
    fig(s.singleSubmit.p50Ms, 1),
  );
  row('single submit, p99 ms', (s) => fig(s.singleSubmit.p99Ms, 1));
  row(
    'single submit, achieved/s (errors)',
    (s) => `${fmt(s.singleSubmit.achievedRate.median, 0)} (${s.singleSubmit.errors})`,
  );
  row('submit → start p50 / p95 / p99 (ms)', (s) =>
    [s.latency.submitToStart.p50Ms, s.latency.submitToStart.p95Ms, s.latency.submitToStart.p99Ms]
      .map((f) => fmt(f.median, 2))
      .join(' / '),
  );
  row('submit → complete p50 / p95 / p99 (ms)', (s) =>
    [s.latency.submitToComplete.p50Ms, s.latency.submitToComplete.p95Ms, s.latency.submitToComplete.p99Ms]
      .map((f) => fmt(f.median, 2))
      .join(' / '),
  );
  row('result → ?wait= answer p50 / p99 (ms)', (s) =>
    s.latency.resultToWaitAnswer
      ? [s.latency.resultToWaitAnswer.p50Ms, s.latency.resultToWaitAnswer.p99Ms]
          .map((f) => fmt(f.median, 2))
          .join(' / ')
      : '–',
  );
  row('result → webhook received p50 / p99 (ms)', (s) =>
    s.latency.resultToWebhook
      ? [s.latency.resultToWebhook.p50Ms, s.latency.resultToWebhook.p99Ms].map((f) => fmt(f.median, 2)).join(' / ')
      : '–',
  );
  row('peak RSS supervisor, MiB', (s) => fig(s.memory.supervisorPeakMb, 0));
  row('peak RSS per worker, MiB', (s) => fig(s.memory.workerPeakMb, 0));
  row('idle worker RSS, MiB', (s) => fig(s.memory.workerIdleMb, 0));
  cpuRows(row);
  console.log(table.toString());
  console.log(keys.map((k) => `${SHORT[k] ?? k}: ${systems[k]!.label}`).join('; '));
  console.log(
    'CPU: /proc utime + stime per task; Redis is the whole server (anything else using it counts too); ' +
      "a peer's producer is this benchmark process; PostgreSQL is not counted (see --help)",
  );
}

function printQueries(q: QueryFigures): void {
  const table = new Table({
    ...STYLE,
    head: [
      `query (${q.tasks.toLocaleString('en-US')} tasks, ${q.events.toLocaleString('en-US')} events)`,
      'p50 ms',
      'max ms',
    ],
  });
  for (const [name, v] of Object.entries(q.queries)) table.push([name, fmt(v.p50, 2), fmt(v.max, 2)]);
  console.log(table.toString());
}

function printTargets(t: Target[]): void {
  const table = new Table({ ...STYLE, head: ['target', 'wanted', 'measured (median)', 'met'] });
  for (const x of t) {
    table.push([
      `${x.name}${x.required ? ' (required)' : ''}`,
      x.target,
      x.value === null ? 'not measured' : `${fmt(x.value, 2)} ${x.unit}`,
      x.met === null ? '—' : x.met ? 'yes' : 'NO',
    ]);
  }
  console.log(table.toString());
}

/** The two builds compared: ratios of paired runs, so that a difference can be set against their spread. */
export function printBaselineComparison(c: BaselineComparison): void {
  const ratio = (f: Figure) => fig(f, 3);
  console.log(
    `taskfleet ÷ taskfleet@baseline (${c.pairedRuns} paired runs; median (min–max)): ` +
      `tasks/s live ${ratio(c.throughputLive)}, drain ${ratio(c.throughputDrain)}; CPU per task, live: ` +
      `supervisor ${ratio(c.cpuLive.supervisor)}, workers ${ratio(c.cpuLive.workers)}, ` +
      `Redis ${ratio(c.cpuLive.redis)}, total ${ratio(c.cpuLive.total)}`,
  );
}

export function printTables(systems: Record<string, SystemFigures>, t: Target[], q: QueryFigures | null): void {
  printSystems(systems);
  if (q) printQueries(q);
  printTargets(t);
}
