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

  it('takes what fits of a dispatch batch, and gives each task’s slot back on its own', () => {
    const seen: number[] = [];
    const slots = new Slots(8, (free) => seen.push(free));
    expect(slots.acquireUpTo('a', 5)).toBe(5);
    expect(slots.acquireUpTo('a', 5)).toBe(3);
    expect(slots.acquireUpTo('b', 1)).toBe(0);
    expect(slots.free).toBe(0);
    slots.releaseTask('a');
    slots.releaseTask('a');
    expect(slots.free).toBe(2);
    expect(slots.activeOn('a')).toBe(6);
    for (let i = 0; i < 3; i++) slots.releaseTask('a');
    slots.endJob('a');
    for (let i = 0; i < 3; i++) slots.releaseTask('a');
    slots.endJob('a');
    expect(slots.inUse).toBe(0);
    expect(seen).toEqual([3, 0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 8]);
    expect(() => slots.endJob('a')).toThrow(/without an acquire/);
  });

  it('limits a route in jobs, by the size of its last job: BullMQ fetches that many jobs ahead', () => {
    const slots = new Slots(50, () => undefined);
    expect(slots.limitFor('a')).toBe(50);
    slots.acquireUpTo('a', 10);
    // One job held, 40 slots free: four more jobs of ten fill them, not forty.
    expect(slots.limitFor('a')).toBe(1 + 4);
    slots.acquireUpTo('a', 1);
    expect(slots.limitFor('a')).toBe(2 + 39);
    // A route that has seen no job yet assumes jobs of one task.
    expect(slots.limitFor('b')).toBe(39);
  });

  it('resizes while tasks run: below the slots in use none is free until enough end, above it more are', () => {
    const seen: number[] = [];
    const slots = new Slots(4, (free) => seen.push(free));
    for (let i = 0; i < 3; i++) expect(slots.tryAcquire('a')).toBe(true);
    slots.resize(1);
    expect(slots.free).toBe(0);
    expect(slots.limitFor('a')).toBe(3);
    expect(slots.tryAcquire('a')).toBe(false);
    slots.release('a');
    slots.release('a');
    expect(slots.free).toBe(0);
    slots.release('a');
    expect(slots.free).toBe(1);
    slots.resize(5);
    expect(slots.free).toBe(5);
    expect(slots.capacity).toBe(5);
    expect(seen).toEqual([3, 2, 1, 0, 0, 0, 1, 5]);
    expect(() => slots.resize(0)).toThrow(/capacity/);
  });
});
