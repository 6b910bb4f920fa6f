/** The workflow routes' entries of the route catalogue (catalogue.ts spreads them in). */
import { z } from 'zod';
import { MAX_WORKFLOW_STEPS } from '../../domain/workflow';
import { stepSchema, workflowSubmissionSchema } from '../../domain/workflowSubmission';
import { decisionBody, eventsQuery, listQuery } from '../routes/workflows';
import type { RouteDoc } from './catalogue';

/** The body as each step is validated (parseWorkflowSteps checks every step with the step schema). */
const submitBody = workflowSubmissionSchema.extend({
  steps: z.array(stepSchema).min(1).max(MAX_WORKFLOW_STEPS),
});

const decision = (kind: 'approve' | 'reject', what: string): RouteDoc => ({
  method: 'POST',
  path: `/v1/workflows/:id/steps/:step/${kind}`,
  summary: what,
  tag: 'workflows',
  body: decisionBody,
  responses: { 200: 'the workflow after the decision' },
  errors: [404, 409],
});

export const WORKFLOW_ROUTES: readonly RouteDoc[] = [
  {
    method: 'POST',
    path: '/v1/workflows',
    summary: 'submit a workflow: steps that need each other, gates that send work back, approvals by a person',
    tag: 'workflows',
    body: submitBody,
    responses: { 201: 'the workflow, its first steps released', 200: 'the stored workflow (a replayed key)' },
    errors: [409, 413],
  },
  {
    method: 'GET',
    path: '/v1/workflows',
    summary: 'list workflows, newest first',
    tag: 'workflows',
    query: listQuery,
    responses: { 200: '{ workflows, nextCursor? }' },
  },
  {
    method: 'GET',
    path: '/v1/workflows/:id',
    summary: 'read a workflow: its state and each step with its state, rounds, tasks, result or error',
    tag: 'workflows',
    responses: { 200: 'the workflow' },
    errors: [404],
  },
  {
    method: 'GET',
    path: '/v1/workflows/:id/events',
    summary: "a workflow's events (JSON), or a stream of them with follow=true (ends after the workflow ends)",
    tag: 'workflows',
    query: eventsQuery,
    responses: { 200: '{ events } or text/event-stream' },
    errors: [404],
  },
  {
    method: 'POST',
    path: '/v1/workflows/:id/cancel',
    summary: 'cancel a workflow: pending steps cancelled, running ones asked to cancel',
    tag: 'workflows',
    responses: { 200: 'the workflow' },
    errors: [404, 409],
  },
  decision('approve', 'approve a step waiting for a person (an approval step, or a gate whose rounds are spent)'),
  decision('reject', 'reject a step waiting for a person: the step fails'),
];
