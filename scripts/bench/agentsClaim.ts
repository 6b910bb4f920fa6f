/**
 * Submit → claim answered, on an idle fleet: the benchmark itself is the HTTP agent (it registers, heartbeats in
 * the background as the settings say, and holds one claim long poll at a time), so that the figure is the
 * supervisor's wake-up path and not any agent's own loop.
 */
import { performance } from 'node:perf_hooks';
import type { ApiClient } from './http';
import { interruption, percentiles, sleep, type Percentiles } from './stats';

interface ClaimedTask {
  id: string;
  attempt: number;
}

/** An agent driven by hand over the protocol: one claim at a time, one slot. */
export class BenchAgent {
  private heartbeat: NodeJS.Timeout | null = null;
  private holding: ClaimedTask | null = null;

  constructor(
    private readonly api: ApiClient,
    readonly id: string,
  ) {}

  async register(): Promise<void> {
    const body = { capabilities: [], types: ['echo'], concurrency: 1, version: 'bench:agents' };
    const answer = JSON.parse(await this.api.post(`/v1/agents/${this.id}/register`, JSON.stringify(body))) as {
      settings: { heartbeatMs: number };
    };
    this.heartbeat = setInterval(() => {
      const running = this.holding ? [{ taskId: this.holding.id, attempt: this.holding.attempt }] : [];
      this.api.post(`/v1/agents/${this.id}/heartbeat`, JSON.stringify({ running })).catch((err: unknown) => {
        console.error(`bench:agents: heartbeat of ${this.id}: ${String(err)}`);
      });
    }, answer.settings.heartbeatMs);
  }

  /** Sends a claim long poll; resolves with its tasks and the moment (performance.now()) its answer arrived. */
  async claim(waitSeconds: number): Promise<{ tasks: ClaimedTask[]; at: number }> {
    const body = JSON.stringify({ max: 1, waitSeconds });
    const text = await this.api.post(`/v1/agents/${this.id}/claim`, body);
    const at = performance.now();
    const { tasks } = JSON.parse(text) as { tasks: ClaimedTask[] };
    this.holding = tasks[0] ?? null;
    return { tasks, at };
  }

  async complete(task: ClaimedTask): Promise<void> {
    const body = { agentId: this.id, attempt: task.attempt, result: { ok: true } };
    await this.api.post(`/v1/tasks/${task.id}/complete`, JSON.stringify(body));
    this.holding = null;
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    await this.api.post(`/v1/agents/${this.id}/stop`, '{}').catch(() => undefined);
  }
}

export interface ClaimLatency {
  /** Just before the submit is sent → the claim's answer arrives, ms. */
  claim: Percentiles;
  /** The submit's own answer (201), ms, for comparison. */
  submit: Percentiles;
}

const TASK = JSON.stringify({ type: 'echo', payload: {} });

/**
 * `samples` rounds of: a claim long poll sent, `pauseMs` for it to be waiting at the supervisor, one task
 * submitted through `submitTo`, the claim's answer timed, the task completed. The first `warmUp` rounds are
 * left out (the first claims on a fresh fleet learn its routes).
 */
export async function claimLatency(
  agent: BenchAgent,
  submitTo: ApiClient,
  samples: number,
  pauseMs: number,
  warmUp = 3,
): Promise<ClaimLatency> {
  const claimMs: number[] = [];
  const submitMs: number[] = [];
  for (let i = 0; i < warmUp + samples; i++) {
    if (interruption.requested) throw new Error('interrupted');
    const waiting = agent.claim(30);
    await sleep(pauseMs);
    const t0 = performance.now();
    const submitted = submitTo.post('/v1/tasks', TASK).then((text) => ({ text, at: performance.now() }));
    const [answer, submit] = await Promise.all([waiting, submitted]);
    const { id } = JSON.parse(submit.text) as { id: string };
    const task = answer.tasks[0];
    if (task?.id !== id) throw new Error(`the claim answered ${JSON.stringify(answer.tasks)}, not task ${id}`);
    await agent.complete(task);
    if (i < warmUp) continue;
    claimMs.push(answer.at - t0);
    submitMs.push(submit.at - t0);
  }
  return { claim: percentiles(claimMs), submit: percentiles(submitMs) };
}
