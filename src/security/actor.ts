import type { Request, Response } from 'express';
import type { Actor } from '../domain/security';

/** The authenticated caller of this request (set by the authentication middleware). */
export function actorOf(res: Response): Actor {
  const actor = res.locals.actor as Actor | undefined;
  if (!actor) throw new Error('no actor on this request: the authentication middleware did not run');
  return actor;
}

export function setActor(res: Response, actor: Actor): void {
  res.locals.actor = actor;
}

/** The client address as express sees it (honours `trust proxy` when configured). */
export function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}
