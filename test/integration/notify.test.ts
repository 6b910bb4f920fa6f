import { Redis } from 'ioredis';
import { notifyTaskChanged, rungTaskIds, taskEventsChannel } from '../../src/dispatch/notify';
import { waitUntilReady } from '../../src/dispatch/redis';
import { REDIS_URL } from '../helpers/fleet';

describe('notifyTaskChanged', () => {
  const prefix = `tftest-notify-${process.pid}`;
  let publisher: Redis;
  let subscriber: Redis;
  beforeAll(() => {
    publisher = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    subscriber = new Redis(REDIS_URL);
  });
  afterAll(() => {
    publisher.disconnect();
    subscriber.disconnect();
  });

  it("publishes the task id on the prefix's channel", async () => {
    await subscriber.subscribe(taskEventsChannel(prefix));
    const received = new Promise<[string, string]>((resolve) =>
      subscriber.once('message', (channel: string, message: string) => resolve([channel, message])),
    );
    await waitUntilReady(publisher, REDIS_URL);
    notifyTaskChanged(publisher, prefix, 'task-1');
    expect(await received).toEqual([`${prefix}:taskfleet-events`, 'task-1']);
  });

  it('sends the ids rung in one turn of the event loop as one message, each once', async () => {
    const received = new Promise<string>((resolve) =>
      subscriber.once('message', (_channel: string, message: string) => resolve(message)),
    );
    for (const id of ['task-a', 'task-b', 'task-a', 'task-c']) notifyTaskChanged(publisher, prefix, id);
    expect(rungTaskIds(await received)).toEqual(['task-a', 'task-b', 'task-c']);
  });

  it('never throws, even on a connection that is closed', () => {
    const closed = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    closed.disconnect();
    expect(() => notifyTaskChanged(closed, prefix, 'task-2')).not.toThrow();
  });
});
