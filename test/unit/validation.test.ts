import { z } from 'zod';
import {
  ConfigError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  TaskfleetError,
  UnavailableError,
  ValidationError,
  type FieldIssue,
} from '../../src/domain/errors';
import { batchSubmissionSchema, taskSubmissionSchema } from '../../src/domain/submission';
import { fieldPath, issuesOf, parseOrThrow } from '../../src/supervisor/validation';

function errorOf(schema: z.ZodType, value: unknown): z.ZodError {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected the parse to fail');
  return r.error;
}

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const fields = (issues: FieldIssue[]) => issues.map((i) => i.field);

/** Validates a batch the way the API does: the envelope, then each task under `tasks[i]`. */
function validateBatch(body: unknown): FieldIssue[] {
  const { tasks } = parseOrThrow(batchSubmissionSchema, body);
  return tasks.flatMap((t, i) => {
    try {
      parseOrThrow(taskSubmissionSchema, t, `tasks[${i}]`);
      return [];
    } catch (err) {
      return (err as ValidationError).issues;
    }
  });
}

describe('fieldPath', () => {
  it('writes numbers as indexes and names as dotted segments', () => {
    expect(fieldPath(['tasks', 3, 'requiredCapabilities', 1])).toBe('tasks[3].requiredCapabilities[1]');
  });

  it('handles consecutive indexes and nested names', () => {
    expect(fieldPath(['payload', 'matrix', 0, 2, 'cell'])).toBe('payload.matrix[0][2].cell');
  });

  it('names the body itself when the path is empty', () => {
    expect(fieldPath([])).toBe('(body)');
  });

  it('writes a single name or a leading index plainly', () => {
    expect(fieldPath(['type'])).toBe('type');
    expect(fieldPath([0])).toBe('[0]');
  });

  it('continues a prefix', () => {
    expect(fieldPath(['requiredCapabilities', 1], 'tasks[3]')).toBe('tasks[3].requiredCapabilities[1]');
    expect(fieldPath([2], 'tasks')).toBe('tasks[2]');
    expect(fieldPath([], 'tasks[3]')).toBe('tasks[3]');
  });

  it('stringifies symbol segments', () => {
    expect(fieldPath(['a', Symbol('s')])).toBe('a.Symbol(s)');
  });
});

describe('issuesOf', () => {
  it('turns each zod issue into a field and a message', () => {
    const issues = issuesOf(errorOf(taskSubmissionSchema, { type: 'echo', priority: 'urgent', delaySeconds: -1 }));
    expect(fields(issues).sort()).toEqual(['delaySeconds', 'priority']);
    expect(issues.find((i) => i.field === 'delaySeconds')?.message).toBe('must not be negative');
  });

  it('names the path of a bad array element inside a prefixed task', () => {
    const error = errorOf(taskSubmissionSchema, { type: 'echo', requiredCapabilities: ['gpu', 'not ok'] });
    expect(fields(issuesOf(error, 'tasks[3]'))).toEqual(['tasks[3].requiredCapabilities[1]']);
  });

  it('names each unrecognized key individually, as "unknown field"', () => {
    const issues = issuesOf(errorOf(taskSubmissionSchema, { type: 'echo', priorty: 'high', colour: 'red' }));
    expect(issues).toEqual([
      { field: 'priorty', message: 'unknown field' },
      { field: 'colour', message: 'unknown field' },
    ]);
  });

  it('names unknown keys under a prefix and under a nested object', () => {
    expect(fields(issuesOf(errorOf(taskSubmissionSchema, { type: 'echo', extra: 1 }), 'tasks[7]'))).toEqual([
      'tasks[7].extra',
    ]);
    const nested = z.strictObject({ outer: z.strictObject({ known: z.string() }) });
    expect(issuesOf(errorOf(nested, { outer: { known: 'x', a: 1, b: 2 } }))).toEqual([
      { field: 'outer.a', message: 'unknown field' },
      { field: 'outer.b', message: 'unknown field' },
    ]);
  });

  it('reports an issue on the whole body as (body)', () => {
    expect(issuesOf(errorOf(taskSubmissionSchema, 'not an object'))).toEqual([
      { field: '(body)', message: expect.any(String) },
    ]);
  });

  it('keeps unknown keys and other failures side by side', () => {
    const issues = issuesOf(errorOf(taskSubmissionSchema, { type: 'Bad Type', nope: true }));
    expect(fields(issues).sort()).toEqual(['nope', 'type']);
  });
});

describe('parseOrThrow', () => {
  it('returns the parsed output, with defaults and transforms applied', () => {
    expect(parseOrThrow(taskSubmissionSchema, { type: 'echo', requiredCapabilities: ['B', 'a'] })).toEqual({
      type: 'echo',
      requiredCapabilities: ['a', 'b'],
      priority: 'normal',
    });
  });

  it('throws a 400 ValidationError naming every failing field', () => {
    const err = thrown(() =>
      parseOrThrow(taskSubmissionSchema, { type: 'echo', maxAttempts: 0, deadline: 'soon', x: 1 }, 'tasks[0]'),
    );
    expect(err).toBeInstanceOf(TaskfleetError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('validation_failed');
    expect(fields(err.issues).sort()).toEqual(['tasks[0].deadline', 'tasks[0].maxAttempts', 'tasks[0].x']);
    for (const f of fields(err.issues)) expect(err.message).toContain(f);
  });

  it('validates the batch envelope with unprefixed paths', () => {
    expect(fields(thrown(() => parseOrThrow(batchSubmissionSchema, { tasks: [] })).issues)).toEqual(['tasks']);
    expect(fields(thrown(() => parseOrThrow(batchSubmissionSchema, { tasks: [{}], force: true })).issues)).toEqual([
      'force',
    ]);
  });
});

describe('batch validation paths', () => {
  it('points at the exact element of the exact task', () => {
    const body = {
      tasks: [
        { type: 'echo' },
        { type: 'echo', requiredCapabilities: ['gpu'] },
        { type: 'sleep' },
        { type: 'echo', requiredCapabilities: ['gpu', 'has space'] },
      ],
    };
    expect(validateBatch(body)).toEqual([{ field: 'tasks[3].requiredCapabilities[1]', message: expect.any(String) }]);
  });

  it('collects the failures of several tasks, each under its own index', () => {
    const body = { tasks: [{ type: 'echo', typo: 1 }, { type: 'echo' }, { priority: 'high' }, 'nope'] };
    expect(fields(validateBatch(body))).toEqual(['tasks[0].typo', 'tasks[2].type', 'tasks[3]']);
  });
});

describe('how each error is answered (problem())', () => {
  it('answers a validation failure 400 with every failing field', () => {
    const issues = [{ field: 'tasks[0].type', message: 'required' }];
    expect(new ValidationError(issues).problem()).toEqual({
      status: 400,
      code: 'validation_failed',
      detail: 'invalid request: tasks[0].type: required',
      extra: { errors: issues },
    });
  });

  it('answers a payload over its limit 413, naming the field', () => {
    expect(new PayloadTooLargeError('tasks[1].payload', 64).problem()).toEqual({
      status: 413,
      code: 'payload_too_large',
      detail: 'tasks[1].payload is larger than the limit of 64 bytes',
      extra: {
        errors: [{ field: 'tasks[1].payload', message: 'tasks[1].payload is larger than the limit of 64 bytes' }],
      },
    });
  });

  it('answers a 4xx with its own message and nothing more', () => {
    expect(new NotFoundError('task t1').problem()).toEqual({
      status: 404,
      code: 'not_found',
      detail: 'task t1 not found',
    });
    expect(new ConflictError('key reused').problem()).toEqual({ status: 409, code: 'conflict', detail: 'key reused' });
  });

  it('never answers a 5xx with its own message, which may hold SQL or driver text', () => {
    const sql = 'SELECT * FROM tasks -- SQLITE_BUSY';
    expect(new UnavailableError(`sqlite: ${sql}`).problem()).toEqual({
      status: 503,
      code: 'unavailable',
      detail: 'a dependency (SQL or Redis) is unavailable; try again later',
    });
    for (const err of [new ConfigError(sql), new TaskfleetError(sql, 500, 'store_failed')]) {
      expect(err.problem().detail).toBe('an internal error occurred; it has been logged');
    }
  });
});
