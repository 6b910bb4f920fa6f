import { MemorySink, Telemetry, noTelemetry } from '../../src/telemetry/telemetry';
import { childOf, formatTraceparent, newTrace, parseTraceparent } from '../../src/telemetry/traceparent';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('traceparent', () => {
  it('parses and formats W3C trace context', () => {
    const t = parseTraceparent(TRACEPARENT);
    expect(t).toEqual({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: true });
    expect(formatTraceparent(t!)).toBe(TRACEPARENT);
    expect(parseTraceparent(' 00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-00 ')?.sampled).toBe(false);
  });

  it.each([
    undefined,
    '',
    'garbage',
    '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-00000000000000000000000000000000-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
  ])('rejects %p', (header) => {
    expect(parseTraceparent(header)).toBeNull();
  });

  it('makes new traces and children that keep the trace id', () => {
    const t = newTrace();
    expect(parseTraceparent(formatTraceparent(t))).toEqual(t);
    const c = childOf(t);
    expect(c.traceId).toBe(t.traceId);
    expect(c.spanId).not.toBe(t.spanId);
  });

  it('never hands out the same id twice across refills of its random pool', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2_000; i++) ids.add(newTrace().spanId); // several 4 KiB pools' worth
    expect(ids.size).toBe(2_000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('the telemetry facade', () => {
  const task = { id: 't1', type: 'echo', requiredCapabilities: ['cuda', 'gpu'], attempt: 2, agentId: 'w1' };

  it('emits task events with task id, type, capability set, attempt, agent and the process role', () => {
    const sink = new MemorySink();
    const t = new Telemetry([sink], { role: 'taskfleet-worker', instance: 'w1' }, () => 42);
    t.taskEvent('TaskSucceeded', task, { runMs: 12 });
    expect(sink.items).toEqual([
      {
        kind: 'event',
        name: 'TaskSucceeded',
        at: 42,
        properties: {
          role: 'taskfleet-worker',
          instance: 'w1',
          taskId: 't1',
          type: 'echo',
          capabilitySet: 'cuda,gpu',
          attempt: '2',
          agentId: 'w1',
          runMs: '12',
        },
      },
    ]);
  });

  it('emits metrics, dependencies and agent state changes', () => {
    const sink = new MemorySink();
    const t = new Telemetry([sink]);
    t.metric('taskfleet.run_duration_ms', 5, { type: 'echo' });
    t.dependency({ type: 'SQL', name: 'claimTask', target: 'sqlite', durationMs: 1.5, success: true });
    t.agentStateChanged('w1', 'running', 'suspended', 'missed 5 heartbeats');
    expect(sink.items.map((i) => [i.kind, i.name, i.value ?? i.durationMs ?? null])).toEqual([
      ['metric', 'taskfleet.run_duration_ms', 5],
      ['dependency', 'claimTask', 1.5],
      ['event', 'AgentStateChanged', null],
    ]);
    expect(sink.items[2]?.properties).toMatchObject({ agentId: 'w1', from: 'running', to: 'suspended' });
  });

  it('carries the current trace across awaits, and only inside it', async () => {
    const sink = new MemorySink();
    const t = new Telemetry([sink]);
    const trace = parseTraceparent(TRACEPARENT)!;
    await t.inTrace(trace, async () => {
      await new Promise((r) => setImmediate(r)); // a later turn of the event loop, not only a microtask
      t.taskEvent('TaskStarted', task);
      await Promise.resolve();
      t.metric('taskfleet.dispatch_latency_ms', 1);
    });
    t.taskEvent('TaskSubmitted', task);
    expect(sink.items.map((i) => i.traceId)).toEqual([trace.traceId, trace.traceId, undefined]);
  });

  it('is a no-op without sinks, and a failing sink never breaks the caller', () => {
    expect(noTelemetry.enabled).toBe(false);
    expect(() => noTelemetry.taskEvent('TaskStarted', task)).not.toThrow();
    const broken = new Telemetry([
      {
        emit: () => {
          throw new Error('down');
        },
        flush: () => Promise.resolve(),
      },
    ]);
    expect(() => broken.taskEvent('TaskStarted', task)).not.toThrow();
  });
});
