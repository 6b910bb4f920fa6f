/**
 * Errors → application/problem+json (RFC 9457). The only place that chooses an error's HTTP status and
 * text; no stack trace or SQL text ever reaches a response: a 5xx answer carries a fixed text for its
 * code, and the error itself goes to the log. 401, 403 and 429 are counted here, whoever raised them.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { PayloadTooLargeError, TaskfleetError, ValidationError } from '../domain/errors';
import type { SecurityCounters } from '../security/auth';
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../security/errors';

export function sendProblem(res: Response, status: number, code: string, detail: string, extra: object = {}): void {
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: `urn:taskfleet:problem:${code}`, title: code.replace(/_/g, ' '), status, detail, ...extra });
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** What a 5xx answer says, by code: never the error's own message, which may hold driver or SQL text. */
const SERVER_DETAIL: Record<string, string> = {
  unavailable: 'a dependency (SQL or Redis) is unavailable; try again later',
};

export function errorHandler(log: Logger, counters?: SecurityCounters): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (res.headersSent) {
      log.error({ err }, 'error after the response started');
      res.destroy();
      return;
    }
    if (err instanceof UnauthorizedError) {
      if (counters) counters.unauthorized++;
      res.set('WWW-Authenticate', 'Bearer');
      sendProblem(res, err.status, err.code, err.message);
      return;
    }
    if (err instanceof ForbiddenError) {
      if (counters) counters.forbidden++;
      sendProblem(
        res,
        err.status,
        err.code,
        err.message,
        err.requiredRoles ? { requiredRoles: err.requiredRoles } : {},
      );
      return;
    }
    if (err instanceof RateLimitedError) {
      if (counters) counters.rateLimited++;
      res.set('Retry-After', String(err.retryAfterSeconds));
      sendProblem(res, err.status, err.code, err.message, { retryAfterSeconds: err.retryAfterSeconds });
      return;
    }
    const bp = err as BodyParserError;
    if (bp?.type === 'entity.parse.failed') {
      sendProblem(res, 400, 'malformed_json', 'the request body is not valid JSON', {
        errors: [{ field: '(body)', message: 'malformed JSON' }],
      });
      return;
    }
    if (bp?.type === 'entity.too.large') {
      const detail = `the request body is larger than ${bp.limit} bytes`;
      sendProblem(res, 413, 'payload_too_large', detail, { errors: [{ field: '(body)', message: detail }] });
      return;
    }
    if (err instanceof ValidationError) {
      sendProblem(res, err.status, err.code, err.message, { errors: err.issues });
      return;
    }
    if (err instanceof PayloadTooLargeError) {
      sendProblem(res, err.status, err.code, err.message, { errors: [{ field: err.field, message: err.message }] });
      return;
    }
    if (err instanceof TaskfleetError) {
      if (err.status >= 500) {
        log.error({ err }, err.message);
        sendProblem(
          res,
          err.status,
          err.code,
          SERVER_DETAIL[err.code] ?? 'an internal error occurred; it has been logged',
        );
        return;
      }
      sendProblem(res, err.status, err.code, err.message);
      return;
    }
    if (typeof bp?.status === 'number' && bp.status >= 400 && bp.status < 500) {
      sendProblem(res, bp.status, 'bad_request', 'the request could not be read');
      return;
    }
    log.error({ err }, 'unhandled error');
    sendProblem(res, 500, 'internal_error', 'an internal error occurred; it has been logged');
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, 404, 'not_found', `no route for ${req.method} ${req.path}`);
};
