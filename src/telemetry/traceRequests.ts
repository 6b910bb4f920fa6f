import type { RequestHandler, Response } from 'express';
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
 * Gives every request its trace: the caller's `traceparent` header when it sends a valid one, else the server
 * span's, else a new trace. The response names it in `traceparent`, so a client can find its task's telemetry,
 * and handlers read it with `traceOf`. The rest of the request runs inside the trace only when telemetry
 * reports somewhere: entering it (AsyncLocalStorage) slows every promise of the process, for nothing when
 * nothing reads the current trace.
 */
export function traceRequests(telemetry: Telemetry): RequestHandler {
  return (req, res, next) => {
    const trace = parseTraceparent(req.get('traceparent')) ?? activeOtelTrace() ?? newTrace();
    res.setHeader('traceparent', formatTraceparent(trace));
    res.locals.trace = trace;
    if (telemetry.enabled) telemetry.inTrace(trace, () => next());
    else next();
  };
}

/** The trace of this request (set by `traceRequests`), if it ran. */
export function traceOf(res: Response): TraceContext | undefined {
  return res.locals.trace as TraceContext | undefined;
}
