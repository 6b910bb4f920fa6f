/**
 * Errors → application/problem+json (RFC 9457). The only place that chooses an error's HTTP status and
 * text; no stack trace or SQL text ever reaches a response.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { PayloadTooLargeError, TaskfleetError, ValidationError } from '../domain/errors';

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

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
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
      if (err.status >= 500) log.error({ err }, err.message);
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
