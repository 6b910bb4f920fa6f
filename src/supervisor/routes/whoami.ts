/**
 * `GET /v1/whoami` (every role, agent keys too): the calling key as the supervisor sees it. The console asks it
 * once at sign-in to name the key and to decide whether to offer admin actions (the API still decides: a
 * forged call answers 403 all the same).
 */
import { Router } from 'express';
import { actorOf } from '../../security/actor';

export function whoamiRoutes(): Router {
  const r = Router();
  r.get('/whoami', (_req, res) => {
    const { keyId, name, role, agent } = actorOf(res);
    res.json({ keyId, name, role, ...(agent ? { agent } : {}) });
  });
  return r;
}
