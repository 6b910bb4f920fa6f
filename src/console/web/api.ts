/**
 * The console's one way to the supervisor: the public API, with `Authorization: Bearer <key>`. The key lives in
 * sessionStorage only (gone when the tab closes, never in a URL or cookie). Event streams are read with fetch
 * (EventSource cannot send the header) and parsed here.
 */
const KEY = 'taskfleet.apiKey';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string): void => sessionStorage.setItem(KEY, key),
  signOut: (): void => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${session.key() ?? ''}`, accept: 'application/json', ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let detail = res.statusText;
  try {
    const body = (await res.json()) as { detail?: string };
    detail = body.detail ?? detail;
  } catch {
    // not JSON: the status text says enough
  }
  return new ApiError(res.status, detail);
}

export async function get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const qs = params.toString();
  const res = await fetch(`/v1${path}${qs ? `?${qs}` : ''}`, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(`/v1${path}`, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (res.status === 204 ? {} : await res.json()) as T;
}

/** Asks for bull-board's short-lived cookie (admin keys only), then the page can be opened. */
export async function openQueueSession(): Promise<void> {
  const res = await fetch('/admin/queues/session', { method: 'POST', headers: headers() });
  if (!res.ok) throw await failure(res);
}

export interface StreamEvent {
  event: string;
  data: unknown;
}

/**
 * Follows a server-sent-events stream until `signal` aborts or the server ends it; calls `onEvent` for each
 * event. Resolves when the stream ends; rejects on an HTTP error. `lastEventId` resumes after that event.
 */
export async function follow(
  path: string,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
  lastEventId?: number,
): Promise<void> {
  const resume: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) };
  const res = await fetch(`/v1${path}`, { headers: headers({ accept: 'text/event-stream', ...resume }), signal });
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent({ event, data: JSON.parse(data.join('\n')) as unknown });
    }
  }
}

/** The signed-in key as the supervisor sees it (`GET /v1/whoami`). */
export interface WhoAmI {
  keyId: string;
  name: string;
  role: 'admin' | 'submitter' | 'reader' | 'agent';
  agent?: { id: string } | { prefix: string };
}

export function whoami(): Promise<WhoAmI> {
  return get<WhoAmI>('/whoami');
}
