/**
 * GET /v1/scaling/pool as the deployments use it (test/api/scaling.test.ts covers the endpoint itself):
 *
 * - with a `reader` key, the role of the scaler key scripts/deploy/03-database-users.sh stores for KEDA;
 * - with exactly the queries the deployments send: each worker pool of infra/azure/main.parameters.json through
 *   the URL template of main.bicep, and the URL of each ScaledObject in infra/k8s;
 * - against a known backlog in which one task is running and one is delayed (it does not count until it is due),
 *   with the deployed workers live as they register (every built-in handler: the signature each scaler names);
 * - and why the scalers ask the supervisor rather than Redis: every taskfleet job is a prioritised BullMQ job, so
 *   the wait list a Redis list-length scaler reads is empty however long the backlog.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { parseAllDocuments, parse } from 'yaml';
import { parseCapabilityList, routeKey } from '../../src/domain/capabilities';
import { placementOrder, poolKey } from '../../src/domain/pool';
import { createApiKey } from '../../src/security/apiKeys';
import { AuditLog } from '../../src/security/audit';
import { builtinHandlers } from '../../workers/handlers';
import { Fleet, inspector, waitFor } from '../helpers/fleet';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

interface Query {
  where: string;
  /** Path and query string, as the scaler requests it. */
  path: string;
  /** KEDA's targetValue: desired replicas = ceil(backlog / targetValue). */
  targetValue: number;
}

/** The Bicep worker pools, through the same template main.bicep builds the scaler URL with. */
function azureQueries(): Query[] {
  const template = /scalerUrl: 'https:\/\/\$\{[^}]+\}(\/v1\/scaling\/pool\?[^']+)'/.exec(
    read('infra/azure/main.bicep'),
  )![1]!;
  const pools = (
    JSON.parse(read('infra/azure/main.parameters.json')) as { parameters: { workerPools: { value: any[] } } }
  ).parameters.workerPools.value;
  return pools.map((pool: Record<string, string | number>) => ({
    where: `azure pool ${pool.name}`,
    path: template.replace(/\$\{pool\.(\w+)\}/g, (_, k: string) => String(pool[k])),
    targetValue: Number(pool.concurrency),
  }));
}

function k8sQueries(): Query[] {
  const { resources } = parse(read('infra/k8s/kustomization.yaml')) as { resources: string[] };
  return resources
    .flatMap((f) => parseAllDocuments(read(`infra/k8s/${f}`)).map((d) => d.toJS()))
    .filter((o) => o.kind === 'ScaledObject')
    .map((o) => {
      const url = new URL(o.spec.triggers[0].metadata.url as string);
      return {
        where: `k8s ${o.metadata.name}`,
        path: url.pathname + url.search,
        targetValue: Number(o.spec.triggers[0].metadata.targetValue),
      };
    });
}

const queries = [...azureQueries(), ...k8sQueries()];

/** The backlog: [type, required capabilities, priority, delayed?]. */
const SUBMITTED: Array<{ type: string; caps: string[]; priority?: string; delaySeconds?: number; payload: unknown }> = [
  ...[1, 2, 3].map(() => ({ type: 'echo', caps: [], payload: 1 })),
  { type: 'echo', caps: [], payload: 1, delaySeconds: 600 },
  { type: 'fail', caps: [], payload: { times: 0 } },
  ...[1, 2].map(() => ({ type: 'sleep', caps: [], priority: 'high', payload: { ms: 1 } })),
  ...[1, 2].map(() => ({ type: 'checksum', caps: ['fs'], payload: { path: '/x' } })),
  { type: 'echo', caps: ['gpu'], payload: 1 }, // no pool has gpu: counted by none
];
/** One task of this type is claimed, i.e. running, by a live `files` worker. */
const RUNNING_TYPE = 'checksum';
/** What a deployed worker registers: every built-in handler its capabilities allow (workers have no type option). */
const workerTypes = (capabilities: readonly string[]) =>
  builtinHandlers({ checksumRoot: null })
    .filter((h) => (h.capabilities ?? []).every((c) => capabilities.includes(c)))
    .map((h) => h.type)
    .sort();

describe('GET /v1/scaling/pool, as the deployed scalers ask it', () => {
  let fleet: Fleet;
  let redis: Redis;
  let readerKey: string;

  beforeAll(async () => {
    redis = inspector();
    fleet = await Fleet.start({ loops: false });
    const store = fleet.sup.store;
    const { key } = await createApiKey(store, new AuditLog(store, { now: () => Date.now() }), {
      name: 'keda-scaler',
      role: 'reader',
      createdBy: { keyId: 'cli:test', name: 'test', ip: null },
    });
    readerKey = key;
    const tasks = await fleet.submitBatch(
      SUBMITTED.map((t) => ({
        type: t.type,
        payload: t.payload,
        requiredCapabilities: t.caps,
        ...(t.priority ? { priority: t.priority } : {}),
        ...(t.delaySeconds ? { delaySeconds: t.delaySeconds } : {}),
      })),
    );
    // The deployed pools' workers are live: general (no capability) and files (fs).
    for (const [id, capabilities] of [
      ['g-1', []],
      ['w-1', ['fs']],
    ] as const) {
      await store.registerAgent(
        {
          id,
          capabilities: [...capabilities],
          types: workerTypes(capabilities),
          concurrency: 8,
          hostname: 'h',
          pid: 1,
          version: 't',
        },
        Date.now(),
      );
    }
    // One checksum task is running on the files worker (claimed as a worker claims it).
    const running = tasks.find((t) => t.type === RUNNING_TYPE)!;
    const claim = await store.claimTask({
      taskId: running.id,
      attempt: running.attempt,
      agentId: 'w-1',
      now: Date.now(),
      leaseMs: 60_000,
    });
    expect(claim.claimed).toBe(true);
    await store.heartbeat({ agentId: 'w-1', now: Date.now(), runningTasks: 1, metrics: null });
    // The supervisor caches the agents briefly, and submitting read them before the workers registered.
    await waitFor(
      async () =>
        (await fleet.request('GET', '/v1/pools')).body.pools.some((p: { running: number }) => p.running === 1),
      10_000,
      'the workers to be seen',
    );
  });

  afterAll(async () => {
    await fleet?.stop();
    await redis?.quit();
  });

  /**
   * What the endpoint should count for a deployed pool: the due queued tasks whose tightest covering pool, among
   * the deployed ones, is the one asked (each scaler names the signature its workers register: every built-in
   * handler, and their capabilities), and the running task when its worker is in that pool.
   */
  function expected(pathAndQuery: string) {
    const q = new URL(pathAndQuery, 'http://x').searchParams;
    const asked = poolKey({
      capabilities: parseCapabilityList(q.get('capabilities') ?? '', 'capabilities'),
      types: parseCapabilityList(q.get('types') ?? '', 'types'),
    });
    const deployed = queries.map((d) => {
      const p = new URL(d.path, 'http://x').searchParams;
      return {
        capabilities: parseCapabilityList(p.get('capabilities') ?? '', 'capabilities'),
        types: parseCapabilityList(p.get('types') ?? '', 'types'),
      };
    });
    const served = SUBMITTED.filter((t) => {
      const tightest = placementOrder(deployed, { type: t.type, capabilities: t.caps })[0];
      return tightest !== undefined && poolKey(tightest) === asked;
    });
    const due = served.filter((t) => !t.delaySeconds);
    const runsHere = due.some((t) => t.type === RUNNING_TYPE) ? 1 : 0;
    const queued = due.length - runsHere;
    return { queued, running: runsHere, delayed: served.length - due.length, backlog: queued + runsHere };
  }

  it('finds the queries of both deployments', () => {
    expect(queries.map((q) => q.where)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^azure pool /), expect.stringMatching(/^k8s /)]),
    );
  });

  it.each(queries.map((q) => [q.where, q] as const))(
    '%s: answers the pool backlog to a reader key, delayed tasks not included',
    async (_, q) => {
      const res = await fleet.request('GET', q.path, undefined, {}, { key: readerKey });
      expect(res.status).toBe(200);
      const want = expected(q.path);
      expect(res.body).toMatchObject(want);
      expect(want.backlog).toBeGreaterThan(0); // every pool has work in this backlog
      // The value KEDA reads (valueLocation: backlog) is a JSON number, and the replicas it computes from it
      // (ceil(backlog / targetValue)) are the ones the endpoint itself suggests for perReplica = targetValue.
      expect(typeof res.body.backlog).toBe('number');
      expect(Math.ceil(res.body.backlog / q.targetValue)).toBe(res.body.desiredReplicas);
    },
  );

  it('counts each task in one pool only: the tightest deployed pool that covers it', () => {
    const counted = queries.filter((q) => q.where.startsWith('azure')).reduce((n, q) => n + expected(q.path).queued, 0);
    const dueServable = SUBMITTED.filter((t) => !t.delaySeconds && !t.caps.includes('gpu')).length;
    expect(counted).toBe(dueServable - 1); // the one running task is not queued
  });

  it('shows why no scaler reads Redis: jobs are prioritised and carry batches, so neither list counts the backlog', async () => {
    const prefix = fleet.config.redisPrefix;
    const echo = routeKey('echo', []);
    // The three due echo tasks were submitted together: one job carries all three.
    await waitFor(async () => (await redis.zcard(`${prefix}:${echo}:prioritized`)) === 1, 10_000, 'the echo job');
    expect(await redis.llen(`${prefix}:${echo}:wait`)).toBe(0);
    expect(await redis.zcard(`${prefix}:${echo}:delayed`)).toBe(1);
    const general = await fleet.request('GET', '/v1/scaling/pool?types=echo', undefined, {}, { key: readerKey });
    expect(general.body).toMatchObject({ queued: 3, delayed: 1, backlog: 3 });
  });
});
