import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { withTimeout } from '../domain/timeout';
import type { Store } from '../store/port';
import type { AgentDirectory } from './agentDirectory';
import { errorHandler, notFoundHandler, sendProblem } from './problem';
import { agentRoutes } from './routes/agents';
import { taskRoutes } from './routes/tasks';
import type { TaskService } from './taskService';

export interface AppDeps {
  store: Store;
  redis: Redis;
  tasks: TaskService;
  agents: AgentDirectory;
  clock: Clock;
  log: Logger;
  maxBodyBytes: number;
  staleAfterMs: number;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: deps.maxBodyBytes, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.store.ping(), 2_000, 'SQL'),
      withTimeout(deps.redis.ping(), 2_000, 'Redis'),
    ]);
    const [sql, redis] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'unreachable'));
    if (sql === 'ok' && redis === 'ok') {
      res.json({ status: 'ready', sql, redis });
      return;
    }
    sendProblem(res, 503, 'not_ready', `SQL: ${sql}, Redis: ${redis}`, { sql, redis });
  });

  app.use('/v1', taskRoutes(deps.tasks, deps.agents));
  app.use('/v1', agentRoutes(deps.store, deps.clock, deps.staleAfterMs));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log));
  return app;
}
