import {
  localPortsOf,
  parseClientList,
  placementShare,
  routeTasks,
  subsets,
  workerConnections,
  type PlacedTask,
} from '../../scripts/bench/shape';

describe('subsets', () => {
  it('gives all 2^n subsets once each, the empty one first, in the order of the items', () => {
    const all = subsets(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(all).toHaveLength(64);
    expect(new Set(all.map((s) => s.join(','))).size).toBe(64);
    expect(all[0]).toEqual([]);
    expect(all).toContainEqual(['a', 'c', 'f']);
    expect(all).toContainEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('refuses a set too large to enumerate', () => {
    expect(() => subsets(Array.from({ length: 17 }, (_, i) => i))).toThrow(/17 items/);
  });
});

describe('routeTasks', () => {
  it('makes one task per type and capability subset: 3 × 64 = 192 routes', () => {
    const tasks = routeTasks(['echo', 'sleep', 'fail'], ['a', 'b', 'c', 'd', 'e', 'f'], (t) => ({ t }));
    expect(tasks).toHaveLength(192);
    expect(new Set(tasks.map((t) => `${t.type}/${t.requiredCapabilities.join(',')}`)).size).toBe(192);
    expect(tasks.find((t) => t.type === 'sleep')?.payload).toEqual({ t: 'sleep' });
  });
});

const CLIENT_LIST = [
  'id=3 addr=127.0.0.1:40001 laddr=127.0.0.1:6379 fd=8 name=taskfleet-worker-w1 age=10 idle=0 flags=N db=0 cmd=evalsha',
  'id=4 addr=127.0.0.1:40002 laddr=127.0.0.1:6379 fd=9 name=taskfleet-worker-w1-producer age=10 cmd=ping',
  'id=5 addr=127.0.0.1:40003 laddr=127.0.0.1:6379 fd=10 name=pfx:ZWNobzo= age=3 cmd=bzpopmin',
  'id=6 addr=127.0.0.1:40004 laddr=127.0.0.1:6379 fd=11 name= age=3 cmd=client|list',
  'id=7 addr=127.0.0.1:40005 laddr=127.0.0.1:6379 fd=12 name=taskfleet-worker-w10 age=3 cmd=ping',
  'id=8 addr=127.0.0.1:40006 laddr=127.0.0.1:6379 fd=13 name=pfx:c2xlZXA6 age=3 cmd=bzpopmin',
  '',
].join('\n');

describe('parseClientList', () => {
  it('reads id, address and name of every client, an empty name included', () => {
    const clients = parseClientList(CLIENT_LIST);
    expect(clients).toHaveLength(6);
    expect(clients[0]).toEqual({ id: '3', addr: '127.0.0.1:40001', name: 'taskfleet-worker-w1' });
    expect(clients[3]).toEqual({ id: '6', addr: '127.0.0.1:40004', name: '' });
  });
});

describe('workerConnections', () => {
  const clients = parseClientList(CLIENT_LIST);

  it("counts exactly the clients on the worker process's own ports, split by name", () => {
    const ports = new Set([40001, 40002, 40003, 40004]);
    expect(workerConnections(clients, 'w1', 'pfx', ports)).toEqual({ total: 4, worker: 2, bullmq: 1, other: 1 });
  });

  it("without ports, goes by name: the worker's own names (not a longer id) and BullMQ's under the prefix", () => {
    expect(workerConnections(clients, 'w1', 'pfx')).toEqual({ total: 4, worker: 2, bullmq: 2, other: 0 });
  });
});

describe('localPortsOf', () => {
  const TCP = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:9C41 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 20 4 30 10 -1',
    '   1: 0100007F:9C42 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1',
    '   2: 0100007F:18EB 0100007F:9C41 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1',
  ].join('\n');

  it('gives the local ports (hex) of the sockets with the given inodes only', () => {
    expect([...localPortsOf(TCP, new Set(['111', '222']))]).toEqual([0x9c41, 0x9c42]);
    expect(localPortsOf(TCP, new Set(['999'])).size).toBe(0);
  });
});

describe('placementShare', () => {
  const task = (agentId: string, startedAt: number, finishedAt: number): PlacedTask => ({
    agentId,
    startedAt,
    finishedAt,
  });

  it('counts only the tasks that started while the general worker had a free slot', () => {
    const tasks = [
      task('general', 0, 100),
      task('general', 10, 100),
      // general runs 2 (its concurrency) here: this one does not count
      task('gpu', 50, 60),
      // general is free again
      task('gpu', 200, 210),
      task('general', 300, 310),
      task('files', 400, 410),
    ];
    const p = placementShare(tasks, 'general', 2);
    expect(p.withRoom).toBe(5);
    expect(p.onGeneral).toBe(3);
    expect(p.share).toBeCloseTo(3 / 5);
    expect(p.byAgent).toEqual({ general: 3, gpu: 2, files: 1 });
  });

  it('is NaN when no task started with room', () => {
    expect(placementShare([], 'general', 8).share).toBeNaN();
  });
});
