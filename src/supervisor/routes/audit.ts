/** `GET /v1/audit` (admin only, by the permission table): the audit log, newest first, keyset-paged. */
import { Router } from 'express';
import { z } from 'zod';
import type { AuditEntry } from '../../domain/security';
import type { Store } from '../../store/port';
import { parseOrThrow } from '../validation';

export const auditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** The `nextCursor` of the previous page: the seq of its last entry. */
  cursor: z
    .string()
    .regex(/^[1-9]\d{0,15}$/, 'a cursor from a previous page')
    .transform(Number)
    .optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'an action such as key.create or task.cancel')
    .optional(),
});

export function auditEntryView(e: AuditEntry): Record<string, unknown> {
  return {
    seq: e.seq,
    at: new Date(e.at).toISOString(),
    actor: e.actor,
    actorName: e.actorName,
    action: e.action,
    target: e.target,
    ip: e.ip,
    detail: e.detail,
  };
}

export function auditRoutes(store: Store): Router {
  const r = Router();

  r.get('/audit', async (req, res) => {
    const q = parseOrThrow(auditQuerySchema, req.query);
    const list = await store.listAudit({
      limit: q.limit + 1,
      ...(q.cursor !== undefined ? { beforeSeq: q.cursor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
    });
    const page = list.slice(0, q.limit);
    const last = page[page.length - 1];
    res.json({
      entries: page.map(auditEntryView),
      nextCursor: list.length > q.limit && last ? String(last.seq) : undefined,
    });
  });

  return r;
}
