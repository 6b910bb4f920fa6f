import type { TaskRecord } from '../../src/domain/task';

/** The most tasks that ran at the same time, from their recorded start and finish times (not from timing). */
export function maxOverlap(tasks: TaskRecord[]): number {
  const points = tasks.flatMap((t) => [
    { at: t.startedAt!, delta: 1 },
    { at: t.finishedAt!, delta: -1 },
  ]);
  points.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (now += p.delta));
  return max;
}
