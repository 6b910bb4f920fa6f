/**
 * What a client may submit as a workflow, checked whole before anything is written: the shape of each step
 * (zod), then the graph (ids unique, `needs` and `validates` known, no cycle, at most MAX_WORKFLOW_STEPS).
 * Each error names the step, as `steps[i]` or the step's id.
 */
import { z } from 'zod';
import { ValidationError, type FieldIssue } from './errors';
import { TOKEN_PATTERN, TOKEN_RULE } from './capabilities';
import { taskSubmissionSchema } from './submission';
import { DEFAULT_MAX_ROUNDS, MAX_WORKFLOW_STEPS, type StepSpec } from './workflow';

const stepId = z.string().regex(TOKEN_PATTERN, TOKEN_RULE);

export const workflowSubmissionSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  steps: z
    .array(z.unknown())
    .min(1, 'at least one step')
    .max(MAX_WORKFLOW_STEPS, `at most ${MAX_WORKFLOW_STEPS} steps`),
});

export const stepSchema = z
  .strictObject({
    id: stepId,
    task: taskSubmissionSchema.optional(),
    approval: z
      .strictObject({
        role: z.enum(['admin', 'submitter']).default('submitter'),
        note: z.string().max(2000).optional(),
      })
      .optional(),
    needs: z.array(stepId).max(MAX_WORKFLOW_STEPS).default([]),
    validates: stepId.optional(),
    maxRounds: z.int().min(1).max(100).optional(),
    onExhausted: z.enum(['fail', 'approval']).optional(),
    onFailure: z.enum(['fail', 'continue']).default('fail'),
  })
  .check((ctx) => {
    const s = ctx.value;
    const issue = (path: string, message: string) =>
      ctx.issues.push({ code: 'custom', input: s, path: [path], message });
    if ((s.task === undefined) === (s.approval === undefined)) {
      issue('task', 'a step has either a task or an approval, not both and not neither');
    }
    if (s.task?.sensitive === true) {
      issue('task', "a sensitive task cannot be a workflow step: its result would travel to the next steps' inputs");
    }
    if (s.task?.callbackUrl !== undefined) {
      issue('task', 'a workflow step takes no callbackUrl: subscribe to the workflow.* webhook events instead');
    }
    if (s.validates === undefined) {
      if (s.maxRounds !== undefined) issue('maxRounds', 'applies to a gate only (a step with validates)');
      if (s.onExhausted !== undefined) issue('onExhausted', 'applies to a gate only (a step with validates)');
    } else if (s.approval !== undefined) {
      issue('validates', 'a gate runs a task: an approval step cannot be one (use onExhausted: "approval")');
    }
  });

/** The steps of a submission, parsed, defaults applied, and checked as a graph; ValidationError otherwise. */
export function parseWorkflowSteps(steps: readonly unknown[]): StepSpec[] {
  const issues: FieldIssue[] = [];
  const specs: StepSpec[] = [];
  steps.forEach((raw, i) => {
    const parsed = stepSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
        issues.push({ field: `steps[${i}]${path}`, message: issue.message });
      }
      return;
    }
    const s = parsed.data;
    specs.push({
      id: s.id,
      ...(s.task ? { task: s.task } : {}),
      ...(s.approval ? { approval: s.approval } : {}),
      needs: [...new Set(s.needs)],
      ...(s.validates !== undefined ? { validates: s.validates } : {}),
      maxRounds: s.maxRounds ?? DEFAULT_MAX_ROUNDS,
      onExhausted: s.onExhausted ?? 'fail',
      onFailure: s.onFailure,
    });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  checkGraph(specs);
  return specs;
}

/** Ids unique, references known, one gate per step, gates on task steps only, no cycle. */
function checkGraph(specs: readonly StepSpec[]): void {
  const issues: FieldIssue[] = [];
  const byId = new Map<string, StepSpec>();
  specs.forEach((s, i) => {
    if (byId.has(s.id)) issues.push({ field: `steps[${i}].id`, message: `duplicate step id ${s.id}` });
    byId.set(s.id, s);
  });
  const gateOf = new Map<string, string>();
  specs.forEach((s, i) => {
    for (const need of s.needs) {
      if (need === s.id) issues.push({ field: `steps[${i}].needs`, message: `step ${s.id} needs itself` });
      else if (!byId.has(need)) {
        issues.push({ field: `steps[${i}].needs`, message: `step ${s.id} needs unknown step ${need}` });
      }
    }
    if (s.validates === undefined) return;
    const target = byId.get(s.validates);
    if (s.validates === s.id) {
      issues.push({ field: `steps[${i}].validates`, message: `step ${s.id} validates itself` });
    } else if (!target) {
      issues.push({ field: `steps[${i}].validates`, message: `step ${s.id} validates unknown step ${s.validates}` });
    } else if (target.task === undefined) {
      issues.push({ field: `steps[${i}].validates`, message: `step ${s.id} validates an approval step` });
    } else if (target.validates !== undefined) {
      issues.push({ field: `steps[${i}].validates`, message: `step ${s.id} validates a gate (${s.validates})` });
    } else if (gateOf.has(s.validates)) {
      issues.push({
        field: `steps[${i}].validates`,
        message: `step ${s.validates} has two gates (${gateOf.get(s.validates)} and ${s.id})`,
      });
    } else {
      gateOf.set(s.validates, s.id);
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  const plain = new Map(specs.map((s) => [s.id, s.validates === undefined ? s.needs : [...s.needs, s.validates]]));
  const cycle = findCycle(specs, plain) ?? findCycle(specs, workflowGraph(specs).deps);
  if (cycle) {
    throw new ValidationError([
      { field: 'steps', message: `steps ${cycle.join(' → ')} form a cycle (step ${cycle[0]} waits for itself)` },
    ]);
  }
}

/** The dependency graph of a workflow's steps, as the planner reads it. */
export interface WorkflowGraph {
  /** The gate of each gated step. */
  gateOf: Map<string, string>;
  /**
   * Each gate's loop: the steps between the gated step and the gate (they need the gated step, directly or not,
   * and the gate needs them). A rejection sends the gated step and its loop back; the loop does not wait for
   * the gate's approval, everything else that needs the gated step or its loop does.
   */
  loops: Map<string, Set<string>>;
  /** What each step waits for: its needs, the step it validates, and the gates whose work it needs. */
  deps: Map<string, string[]>;
}

export function workflowGraph(specs: readonly StepSpec[]): WorkflowGraph {
  const gateOf = new Map<string, string>();
  for (const s of specs) if (s.validates !== undefined) gateOf.set(s.validates, s.id);
  const direct = new Map(specs.map((s) => [s.id, s.validates === undefined ? s.needs : [...s.needs, s.validates]]));
  const loops = new Map<string, Set<string>>();
  for (const [gated, gate] of gateOf) {
    const after = reach(gated, dependentsOf(specs));
    const before = reach(gate, direct);
    loops.set(gate, new Set([...after].filter((id) => before.has(id) && id !== gated && id !== gate)));
  }
  const deps = new Map<string, string[]>();
  for (const s of specs) {
    const out = new Set(direct.get(s.id));
    for (const need of s.needs) {
      for (const [gated, gate] of gateOf) {
        const loop = loops.get(gate)!;
        if ((need === gated || loop.has(need)) && s.id !== gate && !loop.has(s.id)) out.add(gate);
      }
    }
    deps.set(s.id, [...out]);
  }
  return { gateOf, loops, deps };
}

/** Who needs each step (the reverse of `needs`). */
function dependentsOf(specs: readonly StepSpec[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of specs) for (const need of s.needs) out.set(need, [...(out.get(need) ?? []), s.id]);
  return out;
}

/** Every step reachable from `from` along `edges` (not `from` itself unless on a cycle). */
function reach(from: string, edges: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(edges.get(from) ?? [])];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(edges.get(id) ?? []));
  }
  return seen;
}

/** A cycle of the dependency graph as step ids (first repeated last), or null. Iterative depth-first search. */
function findCycle(specs: readonly StepSpec[], deps: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  for (const start of specs) {
    if (state.has(start.id)) continue;
    const path: string[] = [];
    const stack: Array<{ id: string; next: number }> = [{ id: start.id, next: 0 }];
    state.set(start.id, 'open');
    path.push(start.id);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const list = deps.get(top.id) ?? [];
      if (top.next >= list.length) {
        state.set(top.id, 'done');
        stack.pop();
        path.pop();
        continue;
      }
      const dep = list[top.next++]!;
      const seen = state.get(dep);
      if (seen === 'open') return [...path.slice(path.indexOf(dep)), dep];
      if (seen === 'done') continue;
      state.set(dep, 'open');
      path.push(dep);
      stack.push({ id: dep, next: 0 });
    }
  }
  return null;
}
