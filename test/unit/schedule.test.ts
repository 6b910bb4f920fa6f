/** Slot computation of src/domain/schedule.ts: croner in the schedule's zone, and what a due slot becomes. */
import { isTimeZone, nextSlot, parseCron, planSlot, slotIdempotencyKey } from '../../src/domain/schedule';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The slots after `from`, `n` of them, walked the way the scheduler walks them (each after the last). */
function slots(cron: string, timezone: string, from: string, n: number): Array<string | null> {
  const out: Array<string | null> = [];
  let t: number | null = at(from);
  for (let i = 0; i < n && t !== null; i++) out.push(iso((t = nextSlot({ cron, timezone }, t))));
  return out;
}

describe('slots', () => {
  it('fires a daily 02:30 in Europe/Berlin once a day across the spring change (02:00 → 03:00 skipped)', () => {
    expect(slots('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 4)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // 02:30 does not exist that day: 03:30 CEST, once
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
  });

  it('fires each wall-clock time once across the autumn change (02:00-03:00 repeated)', () => {
    expect(slots('*/30 * * * *', 'Europe/Berlin', '2026-10-24T23:45:00Z', 5)).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T02:00:00.000Z', // 03:00 CET: 02:00 and 02:30 CET are not fired a second time
      '2026-10-25T02:30:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
  });

  it('takes 6 fields with seconds, and UTC by default', () => {
    expect(slots('*/1 * * * * *', 'UTC', '2026-01-01T00:00:00.500Z', 2)).toEqual([
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
    ]);
  });

  it('refuses a bad expression or 7 fields, and knows an unknown zone', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/minute/);
    expect(() => parseCron('* * * * * * *')).toThrow();
    expect(() => parseCron('not cron')).toThrow();
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Base')).toBe(false);
  });

  it('derives one idempotency key per (schedule, slot)', () => {
    expect(slotIdempotencyKey('nightly', at('2026-03-28T01:30:00Z'))).toBe('schedule:nightly:2026-03-28T01:30:00.000Z');
  });
});

describe('planSlot', () => {
  const minutely = { cron: '* * * * *', timezone: 'UTC', overlap: 'allow', catchUp: 'none' } as const;
  const slot = at('2026-05-01T10:00:00Z');
  const opts = { lateAfterMs: 5_000, lastTaskRunning: false };

  it('fires an on-time slot and moves to the slot after it', () => {
    expect(planSlot({ ...minutely, nextAt: slot }, slot + 300, opts)).toEqual({
      slotAt: slot,
      action: 'fire',
      nextAt: slot + 60_000,
    });
  });

  it('catchUp none: a late slot (after downtime) is missed, and the next slot is the first after now', () => {
    const now = slot + 10 * 60_000 + 30_000;
    expect(planSlot({ ...minutely, nextAt: slot }, now, opts)).toEqual({
      slotAt: slot,
      action: { skip: 'missed' },
      nextAt: slot + 11 * 60_000,
    });
  });

  it('catchUp one: fires once for the missed slots, then goes on from now', () => {
    const now = slot + 10 * 60_000 + 30_000;
    expect(planSlot({ ...minutely, catchUp: 'one', nextAt: slot }, now, opts)).toEqual({
      slotAt: slot,
      action: 'fire',
      nextAt: slot + 11 * 60_000,
    });
  });

  it('overlap skip: skips while the last task runs; overlap allow fires regardless', () => {
    const running = { ...opts, lastTaskRunning: true };
    expect(planSlot({ ...minutely, overlap: 'skip', nextAt: slot }, slot, running).action).toEqual({ skip: 'overlap' });
    expect(planSlot({ ...minutely, overlap: 'allow', nextAt: slot }, slot, running).action).toBe('fire');
    expect(planSlot({ ...minutely, overlap: 'skip', nextAt: slot }, slot, opts).action).toBe('fire');
  });
});
