/**
 * Errors → application/problem+json (RFC 9457). Each error class says how it is answered
 * (`TaskfleetError.problem()`); this module writes that answer, logs 5xx errors (whose text never reaches a
 * response) and counts 401, 403 and 429, whoever raised them. Errors that are not ours (the JSON body parser's,
 * anything unexpected) are mapped here too.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { INTERNAL_DETAIL, TaskfleetError, type Problem } from '../domain/errors';
import type { SecurityCounters } from '../security/auth';

export function sendProblem(res: Response, problem: Problem): void {
  const { status, code, detail } = problem;
  if (problem.headers) res.set(problem.headers);
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: `urn:taskfleet:problem:${code}`, title: code.replace(/_/g, ' '), status, detail, ...problem.extra });
}

/** The fields of the errors express's JSON body parser raises. */
interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

const INTERNAL: Problem = {
  status: 500,
  code: 'internal_error',
  detail: INTERNAL_DETAIL,
};

function bodyParserProblem(err: BodyParserError | null | undefined): Problem | null {
  if (err?.type === 'entity.parse.failed') {
    const errors = [{ field: '(body)', message: 'malformed JSON' }];
    return { status: 400, code: 'malformed_json', detail: 'the request body is not valid JSON', extra: { errors } };
  }
  if (err?.type === 'entity.too.large') {
    const detail = `the request body is larger than ${err.limit} bytes`;
    return {
      status: 413,
      code: 'payload_too_large',
      detail,
      extra: { errors: [{ field: '(body)', message: detail }] },
    };
  }
  if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
    return { status: err.status, code: 'bad_request', detail: 'the request could not be read' };
  }
  return null;
}

export function errorHandler(log: Logger, counters?: SecurityCounters): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (res.headersSent) {
      log.error({ err }, 'error after the response started');
      res.destroy();
      return;
    }
    const ours = err instanceof TaskfleetError;
    const problem = ours ? err.problem() : (bodyParserProblem(err as BodyParserError) ?? INTERNAL);
    if (problem.status >= 500) log.error({ err }, ours ? err.message : 'unhandled error');
    if (problem.counts && counters) counters[problem.counts]++;
    sendProblem(res, problem);
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, { status: 404, code: 'not_found', detail: `no route for ${req.method} ${req.path}` });
};
