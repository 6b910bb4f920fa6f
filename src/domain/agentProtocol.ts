/**
 * The bodies of the HTTP agent protocol (src/supervisor/agentGateway.ts): what an agent in any language sends
 * to register, heartbeat, claim and report. Validated before anything is written; the OpenAPI document names them.
 */
import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_ID_RULE } from './agent';
import { MAX_CAPABILITIES, TOKEN_PATTERN, TOKEN_RULE } from './capabilities';
import { TASK_LOG_LEVELS } from './taskLog';

/** The longest a claim may wait, in seconds: below common proxies' idle timeouts (60 s). */
export const MAX_CLAIM_WAIT_SECONDS = 30;
/** The most a register's `metadata` may hold, as JSON. */
export const MAX_AGENT_METADATA_BYTES = 4 * 1024;
/** The most lines one `logs` call may carry (the attempt's own cap applies on top). */
export const MAX_LOG_LINES_PER_CALL = 200;

const token = z.string().regex(TOKEN_PATTERN, TOKEN_RULE);
const agentId = z.string().regex(AGENT_ID_PATTERN, AGENT_ID_RULE);
const attempt = z.number().int().min(1);

export const registerBody = z.strictObject({
  capabilities: z.array(token).max(MAX_CAPABILITIES),
  types: z.array(token).min(1).max(64),
  concurrency: z.number().int().min(1).max(1000),
  version: z.string().min(1).max(100).optional(),
  metadata: z
    .record(z.string(), z.unknown())
    .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_AGENT_METADATA_BYTES, {
      message: `at most ${MAX_AGENT_METADATA_BYTES} bytes as JSON`,
    })
    .optional(),
});
export type RegisterBody = z.infer<typeof registerBody>;

export const heartbeatBody = z.strictObject({
  running: z.array(z.strictObject({ taskId: z.string().min(1).max(64), attempt })).max(1000),
  /** The slots the agent applies now (its `desiredConcurrency` once applied); the registered value when left out. */
  concurrency: z.number().int().min(1).max(1000).optional(),
  metrics: z
    .strictObject({
      cpuPercent: z.number().min(0).max(100_000).optional(),
      rssBytes: z.number().int().min(0).optional(),
      heapUsedBytes: z.number().int().min(0).optional(),
    })
    .optional(),
});
export type HeartbeatBody = z.infer<typeof heartbeatBody>;

export const claimBody = z.strictObject({
  max: z.number().int().min(1).max(1000),
  waitSeconds: z.number().min(0).max(MAX_CLAIM_WAIT_SECONDS).default(0),
});
export type ClaimBody = z.infer<typeof claimBody>;

/** Every task write names the attempt it holds (the fencing token) and the agent that writes. */
const leaseWrite = { attempt, agentId };

export const leaseBody = z.strictObject(leaseWrite);
export const completeBody = z.strictObject({ ...leaseWrite, result: z.unknown() });
export const failBody = z.strictObject({
  ...leaseWrite,
  error: z.strictObject({ message: z.string().min(1).max(4000), retryable: z.boolean().default(true) }),
});
export const releaseBody = z.strictObject(leaseWrite);
export const progressBody = z.strictObject({
  ...leaseWrite,
  value: z.union([z.number().min(0).max(100), z.record(z.string(), z.unknown())]),
});
export const logsBody = z.strictObject({
  ...leaseWrite,
  lines: z
    .array(
      z.strictObject({
        message: z.string().max(100_000),
        level: z.enum(TASK_LOG_LEVELS).default('info'),
        fields: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .min(1)
    .max(MAX_LOG_LINES_PER_CALL),
});
export type LogsBody = z.infer<typeof logsBody>;
