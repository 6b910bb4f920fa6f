/**
 * W3C trace context (`traceparent: 00-<trace id>-<parent span id>-<flags>`). A task keeps the traceparent
 * of the request that submitted it, so its submit, dispatch and every run are one trace.
 */
import { randomBytes } from 'node:crypto';

export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(header: string | undefined | null): TraceContext | null {
  const m = header ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (!m) return null;
  const [, traceId = '', spanId = '', flags = '00'] = m;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`;
}

// Ids come out of a pool of random bytes: one call into the CSPRNG per 512 span ids rather than one per id
// (a batch submit makes a span id per task).
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

export function newSpanId(): string {
  return randomHex(8);
}

/** A new trace (used when a request brings none). */
export function newTrace(): TraceContext {
  return { traceId: randomHex(16), spanId: newSpanId(), sampled: true };
}

/** The same trace, with a new span id: a child of `parent`. */
export function childOf(parent: TraceContext): TraceContext {
  return { ...parent, spanId: newSpanId() };
}
