/**
 * Submission, reads and cancellation: the API's logic, independent of HTTP.
 *
 * Order of work on submit: validate everything (nothing written on any error) → one SQL transaction
 * (the task is durable from here) → enqueue on Redis. An enqueue failure does not fail the request: the
 * reconciler re-sends any queued task whose job is missing.
 *
 * Every task records the key that submitted it (`submittedBy`), and idempotency keys are scoped to that key.
 * Every read and action of a task takes the caller and applies the ownership rule of `security/permissions.ts`:
 * a submitter reaches only its own tasks, and another key's task is a NotFoundError with the same message as a
 * task that does not exist. Each cancellation is audited (`task.cancel`).
 */
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import { childOf, formatTraceparent, newTrace, type TraceContext } from '../telemetry/traceparent';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import type { Clock } from '../domain/clock';
import type { Actor } from '../domain/security';
import { NotFoundError, ValidationError } from '../domain/errors';
import {
  IDEMPOTENCY_KEY_PATTERN,
  stableStringify,
  taskSubmissionSchema,
  type TaskSubmission,
} from '../domain/submission';
import type { TaskRecord } from '../domain/task';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyTaskChanged } from '../dispatch/notify';
import { AuditLog } from '../security/audit';
import { maySeeTask, taskOwner } from '../security/permissions';
import { RefusedUrlError, UrlGuard } from '../webhooks/urlGuard';
import type { CancelOutcome, InsertOutcome, NewTask, Store, TaskFilter } from '../store/port';
import { NO_DATA_KEY_MESSAGE } from '../store/sealedStore';
import { checkTaskLimits, newTaskOf } from './newTask';
import { assertShallow, parseOrThrow } from './validation';

/** Who asks for a task: what the ownership rule reads of the caller. */
export type TaskReader = Pick<Actor, 'role' | 'keyId'>;

/** What submission reads from the configuration (without `dataKeys`, sensitive tasks are refused). */
export type SubmissionLimits = Pick<Config, 'maxPayloadBytes' | 'defaultMaxAttempts'> &
  Partial<Pick<Config, 'dataKeys' | 'webhooks'>>;

export class TaskService {
  private readonly audit: AuditLog;
  /** Checks each task's callbackUrl (the SSRF rule of src/webhooks/urlGuard.ts). */
  private readonly urlGuard: UrlGuard;

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly limits: SubmissionLimits,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    this.audit = new AuditLog(store, clock);
    this.urlGuard = new UrlGuard(limits.webhooks?.allowHosts ?? []);
  }

  /**
   * Validates and stores tasks, then dispatches the new ones. With an idempotency key, a single task is
   * keyed `task:<key>` and a batch's task i `batch:<key>#i`, each under the submitting key's id. A batch's
   * tasks all carry the hash of the whole batch, so replaying a key with any other list of tasks (fewer,
   * more, or changed) is a conflict rather than a partial replay.
   */
  async submit(
    bodies: readonly unknown[],
    opts: {
      idempotencyKey?: string | undefined;
      actor: Pick<Actor, 'keyId'>;
      batch: boolean;
      /** The request's trace: each task's trace is a child of it. */
      trace?: TraceContext | undefined;
    },
  ): Promise<InsertOutcome[]> {
    if (opts.idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(opts.idempotencyKey)) {
      throw new ValidationError([
        { field: 'Idempotency-Key', message: 'must be 1 to 200 printable ASCII characters without spaces' },
      ]);
    }
    bodies.forEach((body, i) => assertShallow(body, opts.batch ? `tasks[${i}]` : ''));
    const now = this.clock.now();
    const hash = (value: unknown) => createHash('sha256').update(stableStringify(value)).digest('hex');
    const batchHash = opts.batch && opts.idempotencyKey !== undefined ? hash(bodies) : null;
    const scope = opts.actor.keyId;
    const issues: ValidationError['issues'] = [];
    const tasks: NewTask[] = [];
    bodies.forEach((body, i) => {
      try {
        const prefix = opts.batch ? `tasks[${i}]` : '';
        const idempotency =
          opts.idempotencyKey === undefined
            ? null
            : opts.batch
              ? { key: `${scope}:batch:${opts.idempotencyKey}#${i}`, hash: batchHash ?? '' }
              : { key: `${scope}:task:${opts.idempotencyKey}`, hash: hash(body) };
        tasks.push(this.toNewTask(body, prefix, now, idempotency, opts.actor.keyId));
      } catch (err) {
        if (err instanceof ValidationError) issues.push(...err.issues);
        else throw err;
      }
    });
    if (issues.length === 0) issues.push(...(await this.callbackIssues(tasks, opts.batch, scope)));
    if (issues.length > 0) throw new ValidationError(issues);

    // One trace per task: a child of the request's trace (or a new one), kept with the task in SQL.
    const parent = opts.trace ?? this.telemetry.currentTrace() ?? newTrace();
    for (const t of tasks) t.traceParent = formatTraceparent(childOf(parent));
    const outcomes = await this.store.insertTasks(tasks);
    const created = outcomes.filter((o) => o.created).map((o) => o.task);
    for (const t of created) this.telemetry.taskEvent('TaskSubmitted', t, { priority: t.priority });
    if (created.length > 0) {
      await this.dispatcher.send(created, now).catch((err: unknown) => {
        this.log.warn({ err, tasks: created.length }, 'enqueue failed after commit; the reconciler will re-send');
      });
    }
    return outcomes;
  }

  /**
   * The callbackUrl checks that need I/O: the host's addresses (a name resolving to a refused address is
   * refused like the address itself), and a signing secret for the submitting key to exist.
   */
  private async callbackIssues(tasks: NewTask[], batch: boolean, keyId: string): Promise<ValidationError['issues']> {
    const issues: ValidationError['issues'] = [];
    const field = (i: number) => (batch ? `tasks[${i}].callbackUrl` : 'callbackUrl');
    const problems = new Map<string, Promise<string | null>>();
    let secret: Promise<string | null> | null = null;
    for (const [i, t] of tasks.entries()) {
      if (!t.callbackUrl) continue;
      if (!problems.has(t.callbackUrl)) problems.set(t.callbackUrl, this.urlGuard.problem(t.callbackUrl));
      const problem = await problems.get(t.callbackUrl)!;
      if (problem !== null) {
        issues.push({ field: field(i), message: problem });
        continue;
      }
      secret ??= this.store.getWebhookKeySecret(keyId);
      if ((await secret) === null) {
        issues.push({
          field: field(i),
          message: 'this API key has no signing secret for callbacks yet: create it with POST /v1/webhooks/secret',
        });
      }
    }
    return issues;
  }

  private toNewTask(
    body: unknown,
    prefix: string,
    now: number,
    idempotency: { key: string; hash: string } | null,
    submittedBy: string,
  ): NewTask {
    const s: TaskSubmission = parseOrThrow(taskSubmissionSchema, body, prefix);
    checkTaskLimits(s, prefix, now, this.limits.maxPayloadBytes);
    if (s.sensitive === true && !this.limits.dataKeys) {
      throw new ValidationError([{ field: `${prefix}${prefix ? '.' : ''}sensitive`, message: NO_DATA_KEY_MESSAGE }]);
    }
    if (s.callbackUrl !== undefined) {
      try {
        this.urlGuard.parse(s.callbackUrl);
      } catch (err) {
        if (!(err instanceof RefusedUrlError)) throw err;
        throw new ValidationError([{ field: `${prefix}${prefix ? '.' : ''}callbackUrl`, message: err.message }]);
      }
    }
    return newTaskOf(s, { now, defaultMaxAttempts: this.limits.defaultMaxAttempts, idempotency, submittedBy });
  }

  /** The task, when `actor` may see it; NotFoundError alike for a task that does not exist and another's. */
  async get(id: string, actor: TaskReader): Promise<TaskRecord> {
    const task = await this.store.getTask(id);
    if (!task || !maySeeTask(actor, task)) throw new NotFoundError(`task ${id}`);
    return task;
  }

  /** The tasks `actor` may see that match the filter: a submitter's own only, filtered in the store query. */
  list(filter: Omit<TaskFilter, 'submittedBy'>, actor: TaskReader): Promise<TaskRecord[]> {
    const owner = taskOwner(actor);
    return this.store.listTasks(owner === null ? filter : { ...filter, submittedBy: owner });
  }

  async events(id: string, actor: TaskReader) {
    await this.get(id, actor);
    return this.store.listTaskEvents(id);
  }

  /**
   * Cancels a task for `actor`, who must be allowed to see it (the permission table decides who may cancel at
   * all). Audited as `task.cancel` with the outcome, including `already_terminal`.
   */
  async cancel(id: string, actor: Actor): Promise<{ outcome: Exclude<CancelOutcome, 'not_found'>; task: TaskRecord }> {
    await this.get(id, actor);
    const { outcome, task } = await this.store.requestCancel(id, this.clock.now());
    if (outcome === 'not_found' || !task) throw new NotFoundError(`task ${id}`);
    if (outcome !== 'already_terminal') notifyTaskChanged(this.dispatcher.redis, this.dispatcher.prefix, id);
    await this.audit.record(actor, 'task.cancel', `task:${id}`, { outcome });
    if (outcome === 'cancelled') this.telemetry.taskEvent('TaskCancelled', task);
    return { outcome, task };
  }
}
