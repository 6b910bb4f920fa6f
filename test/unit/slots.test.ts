import { Slots } from '../../workers/runtime/slots';

describe('Slots: one concurrency limit across every route a worker consumes', () => {
  it('admits up to capacity across routes and refuses beyond it', () => {
    const slots = new Slots(3, () => undefined);
    expect(slots.tryAcquire('a')).toBe(true);
    expect(slots.tryAcquire('b')).toBe(true);
    expect(slots.tryAcquire('a')).toBe(true);
    expect(slots.tryAcquire('b')).toBe(false);
    expect(slots.inUse).toBe(3);
    expect(slots.free).toBe(0);
    slots.release('a');
    expect(slots.tryAcquire('b')).toBe(true);
  });

  it('reports the free count after every change, not only at the full/free edge', () => {
    const seen: number[] = [];
    const slots = new Slots(3, (free) => seen.push(free));
    slots.tryAcquire('a');
    slots.tryAcquire('a');
    slots.tryAcquire('a');
    slots.release('a');
    slots.release('a');
    slots.release('a');
    expect(seen).toEqual([2, 1, 0, 1, 2, 3]);
  });

  it('does not report a refused acquire', () => {
    const seen: number[] = [];
    const slots = new Slots(1, (free) => seen.push(free));
    slots.tryAcquire('a');
    slots.tryAcquire('b');
    expect(seen).toEqual([0]);
  });

  it('limits each route to its running tasks plus the free slots (0 for an idle route when none is free)', () => {
    const slots = new Slots(8, () => undefined);
    expect(slots.limitFor('a')).toBe(8);
    for (let i = 0; i < 5; i++) slots.tryAcquire('a');
    slots.tryAcquire('b');
    expect(slots.limitFor('a')).toBe(5 + 2);
    expect(slots.limitFor('b')).toBe(1 + 2);
    expect(slots.limitFor('c')).toBe(2);
    slots.tryAcquire('b');
    slots.tryAcquire('b');
    expect(slots.limitFor('c')).toBe(0);
    expect(slots.limitFor('b')).toBe(3);
    // Back to the full limit once the work is done: the bug this guards against left consumers at 1.
    for (let i = 0; i < 5; i++) slots.release('a');
    for (let i = 0; i < 3; i++) slots.release('b');
    expect(slots.limitFor('a')).toBe(8);
    expect(slots.limitFor('b')).toBe(8);
  });

  it('refuses a release without an acquire on that route', () => {
    const slots = new Slots(2, () => undefined);
    slots.tryAcquire('a');
    expect(() => slots.release('b')).toThrow(/without an acquire/);
    expect(slots.inUse).toBe(1);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new Slots(0, () => undefined)).toThrow();
  });
});
