import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TelemetryItem } from '../../src/telemetry/telemetry';
import { Fleet, waitFor } from '../helpers/fleet';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

/** Supervisor and worker processes both append to the fleet's telemetry file (TASKFLEET_TELEMETRY_FILE). */
describe('telemetry of a task’s life, across processes', () => {
  let fleet: Fleet;
  let file: string;
  const items = (): TelemetryItem[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as TelemetryItem);
  const ofTask = (id: string) => items().filter((i) => i.properties.taskId === id);

  beforeAll(async () => {
    const dir = path.join(os.tmpdir(), `tf-telemetry-${process.pid}-${Date.now()}`);
    file = path.join(dir, 'telemetry.jsonl');
    fleet = await Fleet.start({ env: { TASKFLEET_TELEMETRY_FILE: file } });
    await fleet.spawnWorker({ id: 'tw1' });
  });
  afterAll(async () => {
    await fleet?.stop();
    rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('carries the submitter’s trace id from the API request through the job into the worker', async () => {
    const t = await fleet.submit({ type: 'echo', payload: 1 }, { traceparent: TRACEPARENT });
    await fleet.waitTerminal([t.id]);
    expect((await fleet.sup.store.getTask(t.id))?.traceParent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    await waitFor(() => ofTask(t.id).some((i) => i.name === 'TaskSucceeded'), 5_000, 'the worker’s telemetry');
    const events = ofTask(t.id).filter((i) => i.kind === 'event');
    expect(events.map((e) => [e.name, e.properties.role])).toEqual([
      ['TaskSubmitted', 'taskfleet-supervisor'],
      ['TaskStarted', 'taskfleet-worker'],
      ['TaskSucceeded', 'taskfleet-worker'],
    ]);
    for (const e of events) {
      expect(e.traceId).toBe(TRACE_ID);
      expect(e.properties).toMatchObject({ taskId: t.id, type: 'echo', capabilitySet: '' });
    }
    expect(events[2]?.properties).toMatchObject({ attempt: '1', agentId: 'tw1' });
    // Metrics and SQL dependencies inside the run carry the same trace.
    const traced = items().filter((i) => i.traceId === TRACE_ID);
    const metricNames = traced.filter((i) => i.kind === 'metric').map((i) => i.name);
    expect(metricNames).toEqual(
      expect.arrayContaining(['taskfleet.dispatch_latency_ms', 'taskfleet.run_duration_ms', 'taskfleet.end_to_end_ms']),
    );
    const deps = traced.filter((i) => i.kind === 'dependency').map((i) => i.name);
    expect(deps).toEqual(expect.arrayContaining(['claimTask', 'completeTask']));
  });

  it('gives a task without a traceparent a trace of its own, and reports retries, dead, cancel and expiry', async () => {
    const retried = await fleet.submit({ type: 'fail', payload: { times: 1 }, maxAttempts: 2 });
    const dead = await fleet.submit({ type: 'fail', payload: { times: 5 }, maxAttempts: 1 });
    const cancelled = await fleet.submit({ type: 'echo', payload: 1, delaySeconds: 60 });
    await fleet.request('POST', `/v1/tasks/${cancelled.id}/cancel`);
    const expired = await fleet.submit({
      type: 'echo',
      payload: 1,
      requiredCapabilities: ['nobody'],
      deadline: new Date(Date.now() + 300).toISOString(),
    });
    await fleet.waitTerminal([retried.id, dead.id, cancelled.id, expired.id]);
    await waitFor(() => ofTask(dead.id).some((i) => i.name === 'TaskDead'), 5_000, 'dead telemetry');
    const names = (id: string) =>
      ofTask(id)
        .filter((i) => i.kind === 'event')
        .map((i) => i.name);
    expect(names(retried.id)).toEqual([
      'TaskSubmitted',
      'TaskStarted',
      'TaskFailed',
      'TaskRetried',
      'TaskStarted',
      'TaskSucceeded',
    ]);
    expect(names(dead.id)).toEqual(['TaskSubmitted', 'TaskStarted', 'TaskFailed', 'TaskDead']);
    expect(names(cancelled.id)).toEqual(['TaskSubmitted', 'TaskCancelled']);
    expect(names(expired.id)).toEqual(['TaskSubmitted', 'TaskExpired']);
    const traceIds = new Set(ofTask(retried.id).map((i) => i.traceId));
    traceIds.delete(undefined);
    expect(traceIds.size).toBe(1);
    expect(ofTask(retried.id).find((i) => i.name === 'TaskFailed')?.properties).toMatchObject({ errorKind: 'handler' });
  });

  it('reports agent state changes', async () => {
    await fleet.spawnWorker({ id: 'tw2' });
    const w = fleet.workers.find((x) => x.id === 'tw2')!;
    w.child.kill('SIGTERM');
    await w.exited;
    const states = items()
      .filter((i) => i.name === 'AgentStateChanged' && i.properties.agentId === 'tw2')
      .map((i) => i.properties.to);
    expect(states).toEqual(['running', 'draining', 'stopped']);
  });

  it('serves the same figures at /metrics in Prometheus text format, without an API key', async () => {
    await fleet.request('GET', '/metrics', undefined, { authorization: '' });
    const t = await fleet.submitBatch([1, 2, 3].map((i) => ({ type: 'echo', payload: i, requiredCapabilities: [] })));
    await fleet.waitTerminal(t.map((x: { id: string }) => x.id));
    const queued = await fleet.submit({ type: 'echo', payload: 'nobody', requiredCapabilities: ['nobody'] });
    const res = await fetch(`${fleet.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const value = (line: RegExp) =>
      Number(
        text
          .split('\n')
          .find((l) => line.test(l))
          ?.split(' ')
          .pop(),
      );
    expect(value(/^taskfleet_task_events_total\{kind="succeeded"\}/)).toBeGreaterThanOrEqual(3);
    expect(value(/^taskfleet_dispatch_latency_seconds_count/)).toBeGreaterThanOrEqual(3);
    expect(value(/^taskfleet_run_duration_seconds_count/)).toBeGreaterThanOrEqual(3);
    expect(value(/^taskfleet_end_to_end_seconds_count/)).toBeGreaterThanOrEqual(3);
    expect(value(/^taskfleet_backlog_tasks\{route="echo~nobody",type="echo"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^taskfleet_agents\{state="running"\}/)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^taskfleet_heartbeat_age_seconds\{agent="tw1"\} /m);
    expect(text).toMatch(/^taskfleet_utilisation_ratio /m);
    expect(text).toMatch(/^taskfleet_supervisor_process_resident_memory_bytes /m);
    expect(queued.status).toBe('queued');
  });
});
