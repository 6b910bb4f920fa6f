/**
 * Redis connections that go silent. A flow that a NAT gateway or load balancer dropped for being idle, or a
 * failover, can leave a socket that neither answers nor errors: no FIN, no RST, so ioredis never reconnects and
 * every command on it waits for ever. TCP keep-alive does not notice a silent proxy (the proxy's own stack
 * answers the probes); it only keeps an idle flow alive through a NAT. So every connection gets:
 *
 * - a deadline on every non-blocking command (`commandTimeout` rejects it), and the socket of a connection
 *   that receives nothing for as long while a command waits is destroyed (`socketTimeout`), so ioredis
 *   reconnects on a new socket rather than rejecting one command after another on the dead one. The commands
 *   still waiting on the closed socket fail at once, and a consumer's blocking connections are replaced with
 *   it (what silenced one flow has most likely silenced its siblings);
 * - on a blocking connection (a BullMQ consumer's BZPOPMIN), a watchdog: a blocking read that has not returned
 *   well past its own timeout is dead. BullMQ's own watchdog resets the connection a second past the timeout;
 *   ours says so, and destroys the socket itself if the read still hangs a few seconds later.
 *
 * Whoever opens the connection is told of each dead one (`onDead`), to log it and count it.
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { METRICS, type Telemetry } from '../telemetry/telemetry';

export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Keep-alive probes after this much idle time: well under Azure's 4-minute NAT idle timeout. */
const KEEP_ALIVE_MS = 30_000;
/** Past a blocking read's own timeout: when it is reported dead, and when its socket is destroyed. */
const BLOCKING_NOTICE_MS = 1_000;
const BLOCKING_REPLACE_MS = 5_000;
const SOCKET_TIMEOUT_MESSAGE = /^Socket timeout/;

export type DeadConnectionSign = 'command deadline' | 'blocking-read watchdog';

export interface DeadConnection {
  /** The connection's name (its CLIENT SETNAME). */
  connection: string;
  saw: DeadConnectionSign;
  detail: string;
}

export interface RedisWatch {
  /** The deadline of every non-blocking command, in ms. */
  commandTimeoutMs: number;
  onDead(dead: DeadConnection): void;
}

/** Deadlines of `commandTimeoutMs`; each dead connection is logged once at warn and counted in telemetry. */
export function watchAndReport(commandTimeoutMs: number, log: Logger, telemetry: Telemetry): RedisWatch {
  return {
    commandTimeoutMs,
    onDead: (dead) => {
      log.warn(dead, `dead Redis connection (${dead.saw}): ${dead.detail}`);
      telemetry.metric(METRICS.redisDeadConnections, 1, { connection: dead.connection, saw: dead.saw });
    },
  };
}

export const unwatched: RedisWatch = { commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS, onDead: () => undefined };

/** The ioredis options that give a non-blocking connection its deadlines. */
export function deadlineOptions(watch: RedisWatch): RedisOptions {
  return {
    commandTimeout: watch.commandTimeoutMs,
    socketTimeout: watch.commandTimeoutMs,
    keepAlive: KEEP_ALIVE_MS,
    // A command past its deadline was rejected already; sent again on the next socket, it would run a second
    // time behind its caller's back.
    autoResendUnfulfilledCommands: false,
  };
}

/**
 * Reports a connection whose socket was destroyed for a reply that never came, and then replaces the sockets
 * of `alongside` too (a consumer's blocking connections): whatever silenced one flow (a NAT, a failover) has
 * most likely silenced its siblings, and a consumer's blocking read would otherwise hang until its own watchdog.
 */
export function watchCommands(redis: Redis, name: string, watch: RedisWatch, alongside?: ReadonlySet<Redis>): void {
  redis.on('close', () => {
    // ioredis leaves the socket-timeout timer of a closed socket armed, and it would then destroy the next one.
    clearSocketTimer(redis);
    failUnanswered(redis);
  });
  redis.on('error', (err: Error) => {
    if (!SOCKET_TIMEOUT_MESSAGE.test(err.message)) return;
    const siblings = alongside ? ` and its ${alongside.size} blocking connection(s)` : '';
    const detail = `no reply within ${watch.commandTimeoutMs} ms; reconnecting it${siblings} on new sockets`;
    watch.onDead({ connection: name, saw: 'command deadline', detail });
    if (alongside) recycle(alongside, watch.commandTimeoutMs).catch(() => undefined);
  });
}

/**
 * Makes every duplicate of `redis` (what BullMQ opens for a consumer's blocking reads) a blocking connection:
 * without the command deadline, which a blocking read outlasts by design, and with the blocking-read watchdog.
 * Returns the live duplicates, so that they can be recycled.
 */
export function blockingDuplicates(redis: Redis, name: string, watch: RedisWatch): Set<Redis> {
  const live = new Set<Redis>();
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (override: Partial<RedisOptions> = {}) => {
    const copy = duplicate({
      ...override,
      commandTimeout: undefined,
      socketTimeout: undefined,
      autoResendUnfulfilledCommands: true,
    });
    // BullMQ reconnects the same client after a reset, so a closed one stays listed (recycle skips it).
    live.add(copy);
    watchBlockingReads(copy, `${name} blocking ${override.connectionName ?? ''}`.trim(), watch);
    return copy;
  };
  return live;
}

/** A command as ioredis hands it to `sendCommand`: what the watchdog reads of it. */
interface SentCommand {
  name: string;
  args: unknown[];
  promise: Promise<unknown>;
}

function watchBlockingReads(redis: Redis, name: string, watch: RedisWatch): void {
  const watched = new WeakSet<SentCommand>();
  const send = redis.sendCommand.bind(redis) as (command: SentCommand, stream?: unknown) => unknown;
  (redis as unknown as { sendCommand: typeof send }).sendCommand = (command, stream) => {
    // Timed from when the read goes out on a connected socket: one queued while reconnecting has not begun.
    const written = redis.status === 'ready';
    const result = send(command, stream);
    const seconds = command.name === 'bzpopmin' ? Number(command.args[command.args.length - 1]) : NaN;
    if (written && Number.isFinite(seconds) && seconds > 0 && !watched.has(command)) {
      watched.add(command);
      const ownMs = seconds * 1000;
      const notice = setTimeout(() => {
        const detail = `BZPOPMIN has not returned ${BLOCKING_NOTICE_MS} ms past its own ${ownMs} ms timeout; replacing the connection`;
        watch.onDead({ connection: name, saw: 'blocking-read watchdog', detail });
      }, ownMs + BLOCKING_NOTICE_MS);
      // BullMQ resets the connection itself; this is for a read that hangs even so.
      const replace = setTimeout(() => {
        if (redis.status === 'ready') redis.stream?.destroy();
      }, ownMs + BLOCKING_REPLACE_MS);
      notice.unref();
      replace.unref();
      const settled = () => {
        clearTimeout(notice);
        clearTimeout(replace);
      };
      command.promise.then(settled, settled);
    }
    return result;
  };
}

/**
 * Replaces the socket of each connection with a new one (ioredis reconnects at once) and resolves with how
 * many were replaced once each answers again, or rejects after `timeoutMs`. The socket is destroyed, not
 * ended: on a silent flow an orderly close would wait for ever for the other side's FIN.
 */
export async function recycle(connections: Iterable<Redis>, timeoutMs: number): Promise<number> {
  const replaced: Promise<void>[] = [];
  for (const redis of connections) {
    if (redis.status !== 'ready' || !redis.stream) continue;
    const ready = readyAgain(redis, timeoutMs);
    clearSocketTimer(redis);
    redis.stream.destroy();
    replaced.push(ready);
  }
  await Promise.all(replaced);
  return replaced.length;
}

function readyAgain(redis: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`a recycled Redis connection did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/**
 * Fails at once the commands that were waiting for a reply when the socket closed. Not sent again
 * (`autoResendUnfulfilledCommands: false`), ioredis would leave them to their deadline: their callers (BullMQ's
 * fetch loop among them) would wait that long again on a connection already replaced.
 */
function failUnanswered(redis: Redis): void {
  type Queue = { shift(): { command: { reject(err: Error): void } } | undefined };
  const internals = redis as unknown as { prevCommandQueue?: Queue | null };
  const queue = internals.prevCommandQueue;
  if (!queue) return;
  internals.prevCommandQueue = null;
  const lost = new Error('the Redis connection closed before the reply came (the command may have run)');
  for (let item = queue.shift(); item; item = queue.shift()) item.command.reject(lost);
}

function clearSocketTimer(redis: Redis): void {
  const internals = redis as unknown as { socketTimeoutTimer?: NodeJS.Timeout };
  clearTimeout(internals.socketTimeoutTimer);
  internals.socketTimeoutTimer = undefined;
}
