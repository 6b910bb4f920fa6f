/**
 * What a worker connects to, opened together and released together: telemetry, the store, and two Redis
 * connections (one for commands, shared by every queue consumer, and one for the jobs the worker sends).
 * Each consumer opens one blocking connection of its own besides (flowControl.ts), duplicated from the command
 * connection. Every Redis connection has deadlines and reports itself when it goes silent (redisWatch.ts).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../src/config/config';
import {
  closeConnection,
  createConsumerConnection,
  createProducerConnection,
  waitUntilReady,
} from '../../src/dispatch/redis';
import { watchAndReport } from '../../src/dispatch/redisWatch';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/port';
import { createTelemetry } from '../../src/telemetry/create';
import { instrumentStore } from '../../src/telemetry/instrumentStore';
import type { Telemetry } from '../../src/telemetry/telemetry';

export interface Connections {
  readonly telemetry: Telemetry;
  readonly store: Store;
  readonly commands: Redis;
  readonly producer: Redis;
  /** The consumers' blocking connections open now (BullMQ opens and closes them). */
  readonly blocking: ReadonlySet<Redis>;
}

/** Opens every connection; when one cannot be had, closes the ones opened before rejecting. */
export async function openConnections(config: Config, agentId: string, log: Logger): Promise<Connections> {
  const telemetry = createTelemetry(config, 'taskfleet-worker', agentId);
  const store = instrumentStore(await openStore(config), telemetry);
  const watch = watchAndReport(config.redisCommandTimeoutMs, log, telemetry);
  const consumer = createConsumerConnection(config.redisUrl, `taskfleet-worker-${agentId}`, watch);
  const producer = createProducerConnection(config.redisUrl, `taskfleet-worker-${agentId}-producer`, watch);
  const commands = consumer.redis;
  const connections: Connections = { telemetry, store, commands, producer, blocking: consumer.blocking };
  for (const redis of [commands, producer]) redis.on('error', (err) => log.debug({ err }, 'redis error'));
  try {
    await Promise.all([waitUntilReady(commands, config.redisUrl), waitUntilReady(producer, config.redisUrl)]);
  } catch (err) {
    await closeConnections(connections);
    throw err;
  }
  return connections;
}

/** Every Redis connection of the worker open now. */
export function redisConnections(connections: Connections): Redis[] {
  return [connections.commands, connections.producer, ...connections.blocking];
}

export async function closeConnections(connections: Connections): Promise<void> {
  await Promise.all([closeConnection(connections.commands), closeConnection(connections.producer)]);
  await connections.store.close();
  await connections.telemetry.flush();
}
