/**
 * `taskfleet workflow …`: the workflow command group. Its module (./workflows) is loaded only when one of these
 * commands runs, as every command's is (see main.ts).
 */
import { type Command, Option } from 'commander';
import type { GetConfig } from './main';

const workflows = () => import('./workflows');

export function addWorkflowCommands(program: Command, getConfig: GetConfig): void {
  const workflow = program.command('workflow').description('workflows: steps that need each other, gates, approvals');
  workflow
    .command('submit')
    .description('submit a workflow from a JSON file (as for POST /v1/workflows) and print it')
    .argument('<file>')
    .option('-w, --wait', 'print each step as it changes until the workflow ends (exit 1 unless it succeeded)')
    .option('--idempotency-key <key>', 'Idempotency-Key header')
    .option('--json', 'print JSON')
    .action(async (file: string, options: { wait?: boolean; idempotencyKey?: string; json?: boolean }) =>
      (await workflows()).runWorkflowSubmit(await getConfig(), file, options),
    );
  workflow
    .command('status')
    .description('show a workflow and each of its steps')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) =>
      (await workflows()).runWorkflowStatus(await getConfig(), id, options),
    );
  workflow
    .command('list')
    .description('list workflows, newest first')
    .addOption(
      new Option('--state <state>', 'only in this state').choices([
        'running',
        'waiting_approval',
        'succeeded',
        'failed',
        'cancelled',
      ]),
    )
    .option('--json', 'print JSON')
    .action(async (options: { state?: string; json?: boolean }) =>
      (await workflows()).runWorkflowList(await getConfig(), options),
    );
  for (const action of ['approve', 'reject'] as const) {
    workflow
      .command(action)
      .description(`${action} a step waiting for a person`)
      .argument('<id>')
      .argument('<step>')
      .option('--comment <text>', 'recorded with the decision')
      .action(async (id: string, step: string, options: { comment?: string }) =>
        (await workflows()).runWorkflowAction(await getConfig(), id, action, { step, ...options }),
      );
  }
  workflow
    .command('cancel')
    .description('cancel a workflow: pending steps cancelled, running ones asked to cancel')
    .argument('<id>')
    .action(async (id: string) => (await workflows()).runWorkflowAction(await getConfig(), id, 'cancel', {}));
}
