/**
 * `TaskfleetClient`: the HTTP API as typed methods, over the global `fetch` (Node 20). Every answer other than
 * 2xx is thrown as a `TaskfleetProblem`; no answer at all as `TaskfleetUnreachable`.
 *
 * Results without polling: `wait` long-polls `GET /v1/tasks/:id?wait=` to a deadline, and `events` reads the
 * task's server-sent event stream, resuming with `Last-Event-ID` after a dropped connection.
 */
import { TaskfleetProblem, TaskfleetUnreachable } from './problem';
import { parseSse, type SseState } from './sse';
import type {
  AgentSettings,
  AgentView,
  CancelAnswer,
  ListFilter,
  ProgressUpdate,
  TaskEventView,
  TaskLogs,
  TaskPage,
  TaskStreamItem,
  TaskSubmission,
  TaskView,
} from './types';

export interface ClientOptions {
  /** The supervisor, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string | null;
}

export interface SubmitOptions {
  /** `Idempotency-Key`: the same key and body answer the first submission's task(s) again. */
  idempotencyKey?: string;
}

export interface WaitOptions {
  /** How long to wait in all; the task as it stands then is returned. Default: until it ends. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface EventsOptions {
  signal?: AbortSignal;
  /** Resume after this sequence number (what a previous iteration last saw). */
  lastEventId?: string;
  /** Reconnects in a row without a message before giving up (default 10). */
  maxReconnects?: number;
}

const TERMINAL = new Set<string>(['succeeded', 'dead', 'cancelled', 'expired']);
/** The server holds a wait at most this long per request. */
const MAX_WAIT_SECONDS = 60;
/** A non-terminal answer faster than this came from a server that did not hold the request: pause between polls. */
const MIN_POLL_MS = 1000;
const POLL_PAUSE_MS = 250;

export function isTerminal(task: Pick<TaskView, 'status'>): boolean {
  return TERMINAL.has(task.status);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const enc = encodeURIComponent;

export class TaskfleetClient {
  readonly baseUrl: string;
  private readonly apiKey: string | null;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? null;
  }

  async submit(task: TaskSubmission, options: SubmitOptions = {}): Promise<TaskView> {
    return this.json<TaskView>('POST', '/v1/tasks', { body: task, headers: idempotency(options) });
  }

  async submitBatch(tasks: TaskSubmission[], options: SubmitOptions = {}): Promise<TaskView[]> {
    const answer = await this.json<{ tasks: TaskView[] }>('POST', '/v1/tasks/batch', {
      body: { tasks },
      headers: idempotency(options),
    });
    return answer.tasks;
  }

  /** The task; with `waitSeconds` (1 to 60) the server answers as soon as it ends, or when the wait runs out. */
  async get(id: string, options: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<TaskView> {
    const query = options.waitSeconds === undefined ? '' : `?wait=${options.waitSeconds}`;
    return this.json<TaskView>('GET', `/v1/tasks/${enc(id)}${query}`, { signal: options.signal });
  }

  /**
   * The task once it has ended, or as it stands at the deadline. Each request asks the server to hold it up to
   * the time left (at most 60 s); a server that answers a running task at once is polled with short pauses.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<TaskView> {
    const deadline = Date.now() + (options.timeoutMs ?? Infinity);
    for (;;) {
      const left = deadline - Date.now();
      const waitSeconds = Math.max(1, Math.min(MAX_WAIT_SECONDS, Math.ceil(left / 1000)));
      const started = Date.now();
      const task = await this.get(id, { waitSeconds, signal: options.signal });
      if (isTerminal(task) || Date.now() >= deadline) return task;
      const took = Date.now() - started;
      if (took < MIN_POLL_MS) await sleep(Math.min(POLL_PAUSE_MS, deadline - Date.now()), options.signal);
    }
  }

  /** The events recorded for a task so far (JSON, no stream). */
  async eventList(id: string): Promise<TaskEventView[]> {
    return (await this.json<{ events: TaskEventView[] }>('GET', `/v1/tasks/${enc(id)}/events`)).events;
  }

  /**
   * The task's events as they happen: those recorded so far, then each new one, ending after the terminal
   * event. A dropped connection is reopened with `Last-Event-ID`, so nothing is missed or seen twice.
   */
  async *events(id: string, options: EventsOptions = {}): AsyncGenerator<TaskStreamItem, void, undefined> {
    const state: SseState = { lastEventId: options.lastEventId ?? '' };
    const maxReconnects = options.maxReconnects ?? 10;
    let failures = 0;
    for (;;) {
      let reason: unknown = null;
      try {
        const res = await this.request('GET', `/v1/tasks/${enc(id)}/events?follow=true`, {
          signal: options.signal,
          headers: {
            accept: 'text/event-stream',
            ...(state.lastEventId ? { 'last-event-id': state.lastEventId } : {}),
          },
        });
        if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
          await res.body?.cancel();
          throw new Error(
            `${this.baseUrl} does not stream task events (it answered ${res.headers.get('content-type')})`,
          );
        }
        for await (const message of parseSse(res.body!, state)) {
          failures = 0;
          const item = streamItem(message.event, message.data);
          if (!item) continue;
          yield item;
          if (item.kind === 'event' && TERMINAL.has(item.event.kind)) return;
        }
      } catch (err) {
        // An answer from the server (404, 403, a stream it does not offer) or the caller's abort is final.
        if (options.signal?.aborted || err instanceof TaskfleetProblem || !isDrop(err)) throw err;
        reason = err;
      }
      if (++failures > maxReconnects) {
        throw new Error(`the event stream of task ${id} dropped ${failures} times in a row`, { cause: reason });
      }
      await sleep(state.retryMs ?? Math.min(5000, 100 * 2 ** (failures - 1)), options.signal);
    }
  }

  async cancel(id: string): Promise<CancelAnswer> {
    return this.json<CancelAnswer>('POST', `/v1/tasks/${enc(id)}/cancel`, { accept409: true });
  }

  /** Sends a dead, cancelled or expired task through again (409 `not_retryable` otherwise). */
  async retry(id: string): Promise<TaskView> {
    return (await this.json<{ task: TaskView }>('POST', `/v1/tasks/${enc(id)}/retry`)).task;
  }

  /** One page of tasks, newest first; pass the previous page's `nextCursor` for the next. */
  async listPage(filter: ListFilter = {}, cursor?: string): Promise<TaskPage> {
    const query = new URLSearchParams();
    if (filter.status) query.set('status', filter.status);
    if (filter.type) query.set('type', filter.type);
    if (filter.capability) query.set('capability', filter.capability);
    if (filter.pageSize !== undefined) query.set('limit', String(filter.pageSize));
    if (cursor) query.set('cursor', cursor);
    const q = query.toString();
    return this.json<TaskPage>('GET', `/v1/tasks${q ? `?${q}` : ''}`);
  }

  /** Every task matching the filter, newest first, a page at a time (each page fetched when reached). */
  async *list(filter: ListFilter = {}): AsyncGenerator<TaskView, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage(filter, cursor);
      yield* page.tasks;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** The log lines of one attempt (default: the latest). */
  async logs(id: string, attempt?: number): Promise<TaskLogs> {
    const query = attempt === undefined ? '' : `?attempt=${attempt}`;
    return this.json<TaskLogs>('GET', `/v1/tasks/${enc(id)}/logs${query}`);
  }

  /** The first page of agents (up to 200; agents stopped a while ago are left out): see `agentsPage`. */
  async agents(): Promise<AgentView[]> {
    return (await this.agentsPage()).agents;
  }

  /** One page of agents, filtered; pass the answer's `nextCursor` as `cursor` for the next page. */
  async agentsPage(
    q: { state?: string; capability?: string; limit?: number; cursor?: string; includeStopped?: boolean } = {},
  ): Promise<{ agents: AgentView[]; nextCursor?: string }> {
    const params = new URLSearchParams();
    if (q.state) params.set('state', q.state);
    if (q.capability) params.set('capability', q.capability);
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.cursor) params.set('cursor', q.cursor);
    if (q.includeStopped) params.set('include', 'stopped');
    const query = params.size > 0 ? `?${params.toString()}` : '';
    return this.json<{ agents: AgentView[]; nextCursor?: string }>('GET', `/v1/agents${query}`);
  }

  /** One agent, with its settings (`desiredConcurrency`, `disabledTypes`). */
  async agent(id: string): Promise<AgentView> {
    return this.json<AgentView>('GET', `/v1/agents/${enc(id)}`);
  }

  /**
   * Changes an agent's settings (an admin key): `concurrency` (null: the agent's own), `disabledTypes` (the whole
   * list). The agent applies them at its next heartbeat, without a restart. Answers the agent.
   */
  async updateAgent(id: string, settings: AgentSettings): Promise<AgentView> {
    return this.json<AgentView>('PATCH', `/v1/agents/${enc(id)}`, { body: settings });
  }

  private async json<T>(method: string, path: string, o: RequestOptions & { accept409?: boolean } = {}): Promise<T> {
    const res = await this.request(method, path, o);
    return (await res.json()) as T;
  }

  /** One request; a non-2xx answer (but a 409 the caller takes as an answer) is thrown as a problem. */
  private async request(
    method: string,
    path: string,
    o: RequestOptions & { accept409?: boolean } = {},
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.apiKey === null ? {} : { authorization: `Bearer ${this.apiKey}` }),
          ...o.headers,
        },
        ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      throw new TaskfleetUnreachable(this.baseUrl, err);
    }
    const problem = res.headers.get('content-type')?.startsWith('application/problem+json') ?? false;
    if (res.ok || (o.accept409 && res.status === 409 && !problem)) return res;
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      body = { detail: text.slice(0, 500) || res.statusText };
    }
    throw new TaskfleetProblem(res.status, body, res.headers.get('retry-after'));
  }
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

function idempotency(o: SubmitOptions): Record<string, string> {
  return o.idempotencyKey === undefined ? {} : { 'idempotency-key': o.idempotencyKey };
}

/**
 * A connection that failed or closed: worth reopening (anything else, e.g. a bug in a caller, is not). By name,
 * not `instanceof`: fetch's errors come from Node's own realm, which is not the caller's under a VM (jest).
 */
function isDrop(err: unknown): boolean {
  if (err instanceof TaskfleetUnreachable) return true;
  const e = err as { name?: unknown; code?: unknown } | null;
  return e?.name === 'TypeError' || typeof e?.code === 'string';
}

function streamItem(event: string, data: string): TaskStreamItem | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return null;
  }
  if (event === 'progress') return { kind: 'progress', progress: parsed as ProgressUpdate };
  const view = parsed as TaskEventView;
  return { kind: 'event', seq: view.seq, event: view };
}
