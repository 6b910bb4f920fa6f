/** `import { TaskfleetClient } from 'taskfleet/client'`: the typed client of the taskfleet HTTP API. */
export { TaskfleetClient, isTerminal } from './client';
export type { ClientOptions, EventsOptions, SubmitOptions, WaitOptions } from './client';
export { TaskfleetProblem, TaskfleetUnreachable, type FieldError } from './problem';
export { parseSse, type SseMessage, type SseState } from './sse';
export type * from './types';
