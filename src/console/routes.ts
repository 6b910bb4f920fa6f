/**
 * What the supervisor serves to a browser, beside the API: the console at /ui (and / redirects there), the API
 * reference at /docs (Swagger UI, from the package's own files, rendering /openapi.json) and bull-board at
 * /admin/queues. The console is static files and holds no data: every figure and action is a call of the public
 * API, with the key the person signed in with, so it is authorised and audited like any other call.
 *
 * Each page gets a strict CSP of its own (the API's is `default-src 'none'`): scripts, styles, images and
 * fetches from this origin only, no inline script, nothing framed, so no request ever leaves the origin.
 */
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { AuthenticateOptions } from '../security/auth';
import { CONSOLE_DIR, SWAGGER_UI_DIR } from './assets';
import { QUEUES_PATH, queueSession } from './queueSession';

/** The console's and the docs' CSP. Swagger UI sets style attributes from script, which `style-src` allows. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * bull-board's page sets inline styles (its build does): the one page whose styles need 'unsafe-inline',
 * reachable by admins only; its scripts are files, and no other origin is allowed. Its <base href> is ours.
 */
export const QUEUES_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
  "base-uri 'none'",
  "base-uri 'self'",
);

export interface ConsoleDeps {
  auth: AuthenticateOptions;
  /** The BullMQ queues bull-board shows: every pool's and every parking queue, asked for on each visit. */
  queueNames(): Promise<string[]>;
  /** The supervisor's queue of that name (kept and closed by its dispatcher). */
  queueFor(name: string): Queue;
}

const csp =
  (policy: string): RequestHandler =>
  (_req, res, next) => {
    res.set('Content-Security-Policy', policy);
    next();
  };

export function consoleRoutes(deps: ConsoleDeps): Router {
  const r = Router();
  r.get('/', (_req, res) => res.redirect(302, '/ui/'));
  r.use('/ui', csp(PAGE_CSP), express.static(CONSOLE_DIR, { index: 'index.html', fallthrough: false }));
  r.use(
    '/docs',
    csp(PAGE_CSP),
    express.static(CONSOLE_DIR, { index: 'docs.html' }),
    express.static(SWAGGER_UI_DIR, { index: false, fallthrough: false }),
  );
  r.use(QUEUES_PATH, queueBoard(deps));
  return r;
}

function queueBoard(deps: ConsoleDeps): Router {
  const r = Router();
  const session = queueSession(deps.auth);
  const server = new ExpressAdapter().setBasePath(QUEUES_PATH);
  const board = createBullBoard({
    queues: [],
    serverAdapter: server,
    options: { uiConfig: { boardTitle: 'taskfleet' } },
  });
  // Its page template without the Google Fonts link (src/console/build.js): set after createBullBoard,
  // which sets the package's own.
  server.setViewsPath(path.join(CONSOLE_DIR, 'bull-board'));
  let shown = '';
  r.post('/session', session.open);
  r.use(session.guard, csp(QUEUES_CSP), async (req, _res, next) => {
    // Pools come and go: the list is brought up to date on each page and API call (three SQL reads, no Redis
    // call), not on its static files.
    if (req.path.startsWith('/static/')) return next();
    const names = (await deps.queueNames()).sort();
    if (names.join('\n') !== shown) {
      // Read-only: SQL is the truth and Redis only the doorbell, so a job retried, promoted or removed in
      // bull-board would bypass the task's state and the audit log. Actions belong to the console (the API).
      board.replaceQueues(names.map((name) => new BullMQAdapter(deps.queueFor(name), { readOnlyMode: true })));
      shown = names.join('\n');
    }
    next();
  });
  r.use(server.getRouter() as Router);
  return r;
}
