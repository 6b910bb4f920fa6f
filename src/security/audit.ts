/**
 * The audit log: every admin action, key creation and revocation, and task cancellation, with who, what,
 * when and from where. Written to the store (`audit_log`), read back through `GET /v1/audit`. It never holds
 * task data: a payload or result in an entry's detail is written as `[redacted]`.
 */
import type { Clock } from '../domain/clock';
import type { Actor } from '../domain/security';
import type { Store } from '../store/port';
import { redactTaskData } from './redact';

export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /**
   * Records an action; `target` is `task:<id>`, `agent:<id>` or `key:<id>`. The actor's `ip` is null for the
   * command line (`cli:<user>`), which acts on the store directly.
   */
  async record(
    actor: Pick<Actor, 'keyId' | 'name'> & { ip: string | null },
    action: string,
    target: string,
    detail: unknown = null,
  ) {
    await this.store.appendAudit({
      at: this.clock.now(),
      actor: actor.keyId,
      actorName: actor.name,
      action,
      target,
      ip: actor.ip,
      detail: redactTaskData(detail),
    });
  }
}
