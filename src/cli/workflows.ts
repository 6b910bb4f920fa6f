/**
 * `taskfleet workflow submit | status | list | approve | reject | cancel`: thin HTTP clients of `/v1/workflows`
 * (TASKFLEET_URL, TASKFLEET_API_KEY). `submit --wait` prints each step as it changes and exits 1 unless the
 * workflow succeeded.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/config';
import { ValidationError } from '../domain/errors';
import { call } from './client';

interface StepView {
  id: string;
  kind: string;
  state: string;
  round: number;
  taskIds: string[];
  error: { message: string } | null;
  feedback?: unknown;
}

interface WorkflowView {
  id: string;
  name: string | null;
  state: string;
  error: { message: string } | null;
  steps: StepView[];
}

const WAIT_POLL_MS = 500;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const enc = encodeURIComponent;

function stepLine(s: StepView): string {
  const head = `  ${s.id.padEnd(20)} ${s.kind.padEnd(9)} ${s.state}`;
  if (s.state === 'pending' && s.round > 0) {
    // Sent back by its gate (or with the gated step it follows): its next round has not started yet.
    const feedback = s.feedback === null || s.feedback === undefined ? '' : `: ${short(s.feedback)}`;
    return `${head}, round ${s.round + 1} next${feedback}`;
  }
  const round = s.round > 1 ? ` round ${s.round}` : '';
  const task = s.taskIds.length > 0 ? `  task ${s.taskIds[s.taskIds.length - 1]}` : '';
  const error = s.error ? `  (${s.error.message})` : '';
  return `${head}${round}${task}${error}`;
}

function short(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

function print(w: WorkflowView): void {
  const error = w.error ? `: ${w.error.message}` : '';
  console.log(`workflow ${w.id}${w.name ? ` (${w.name})` : ''}: ${w.state}${error}`);
  for (const s of w.steps) console.log(stepLine(s));
}

export async function runWorkflowSubmit(
  config: Config,
  file: string,
  o: { wait?: boolean; idempotencyKey?: string; json?: boolean },
): Promise<void> {
  let body: unknown;
  try {
    body = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not JSON';
    throw new ValidationError([{ field: file, message: `${why} (a workflow as for POST /v1/workflows)` }]);
  }
  const headers: Record<string, string> = o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : {};
  let w = (await call(config, 'POST', '/v1/workflows', body, headers)) as unknown as WorkflowView;
  if (!o.wait) {
    if (o.json) console.log(JSON.stringify(w, null, 2));
    else print(w);
    return;
  }
  const seen = new Map<string, string>();
  const report = (view: WorkflowView) => {
    for (const s of view.steps) {
      const line = stepLine(s);
      if (seen.get(s.id) !== line) console.log(line);
      seen.set(s.id, line);
    }
  };
  console.log(`workflow ${w.id}: submitted`);
  report(w);
  let announced = false;
  while (!TERMINAL.has(w.state)) {
    if (w.state === 'waiting_approval' && !announced) {
      console.log(`  waiting for approval: taskfleet workflow approve ${w.id} <step>`);
    }
    announced = w.state === 'waiting_approval';
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    w = (await call(config, 'GET', `/v1/workflows/${enc(w.id)}`)) as unknown as WorkflowView;
    report(w);
  }
  if (o.json) console.log(JSON.stringify(w, null, 2));
  else console.log(`workflow ${w.id}: ${w.state}${w.error ? `: ${w.error.message}` : ''}`);
  if (w.state !== 'succeeded') process.exitCode = 1;
}

export async function runWorkflowStatus(config: Config, id: string, o: { json?: boolean }): Promise<void> {
  const w = (await call(config, 'GET', `/v1/workflows/${enc(id)}`)) as unknown as WorkflowView;
  if (o.json) console.log(JSON.stringify(w, null, 2));
  else print(w);
}

export async function runWorkflowList(config: Config, o: { state?: string; json?: boolean }): Promise<void> {
  const query = o.state ? `?state=${enc(o.state)}` : '';
  const { workflows } = (await call(config, 'GET', `/v1/workflows${query}`)) as unknown as {
    workflows: Array<{ id: string; name: string | null; state: string; stepCount: number; createdAt: string }>;
  };
  if (o.json) {
    console.log(JSON.stringify(workflows, null, 2));
    return;
  }
  console.log(`workflows (${workflows.length}, newest first)`);
  for (const w of workflows) {
    console.log(`  ${w.id}  ${w.state.padEnd(16)} ${String(w.stepCount).padStart(3)} steps  ${w.name ?? ''}`);
  }
}

export async function runWorkflowAction(
  config: Config,
  id: string,
  action: 'approve' | 'reject' | 'cancel',
  o: { step?: string; comment?: string },
): Promise<void> {
  const path =
    action === 'cancel'
      ? `/v1/workflows/${enc(id)}/cancel`
      : `/v1/workflows/${enc(id)}/steps/${enc(o.step ?? '')}/${action}`;
  const body = action === 'cancel' ? undefined : o.comment ? { comment: o.comment } : {};
  print((await call(config, 'POST', path, body)) as unknown as WorkflowView);
}
