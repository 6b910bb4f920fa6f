import type { RequestHandler } from 'express';
import { trace as otelTrace } from '@opentelemetry/api';
import type { Telemetry } from './telemetry';
import { formatTraceparent, newTrace, parseTraceparent, type TraceContext } from './traceparent';

/** The trace the instrumented HTTP server (Application Insights) opened for this request, if any. */
function activeOtelTrace(): TraceContext | null {
  const ctx = otelTrace.getActiveSpan()?.spanContext();
  if (!ctx || !otelTrace.isSpanContextValid(ctx)) return null;
  return { traceId: ctx.traceId, spanId: ctx.spanId, sampled: (ctx.traceFlags & 1) === 1 };
}

/**
 * Runs the rest of the request inside its trace: the caller's `traceparent` header when it sends a valid one,
 * else the server span's, else a new trace. The response names it in `traceparent`, so a client can find
 * its task's telemetry.
 */
export function traceRequests(telemetry: Telemetry): RequestHandler {
  return (req, res, next) => {
    const trace = parseTraceparent(req.get('traceparent')) ?? activeOtelTrace() ?? newTrace();
    res.setHeader('traceparent', formatTraceparent(trace));
    telemetry.inTrace(trace, () => next());
  };
}
