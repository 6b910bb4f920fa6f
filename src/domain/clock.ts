/** An injectable clock, so tests can drive time where it matters. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
