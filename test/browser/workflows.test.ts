/**
 * Workflows in the console, in a real browser (headless Chromium) against a real fleet: a supervisor, a worker
 * process, Redis and SQLite. The review loop of examples/workflows/ runs as submitted: its gate rejects `fix`
 * once (round 2), then `sign-off` waits for a person, whose Approve on screen finishes the workflow.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { makeKeys, type Keys } from '../helpers/apiKeys';
import { browserFor, foreignRequests, openPage, screenshot, type RecordedPage } from '../helpers/browser';
import { Fleet, inspector, ROOT, stopAndVerifyClean, waitFor } from '../helpers/fleet';

const redis = inspector();
const browser = browserFor();
let fleet: Fleet;
let keys: Keys;
const opened: RecordedPage[] = [];
const reviewLoop = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'workflows', 'review-loop.json'), 'utf8'));

beforeAll(async () => {
  fleet = await Fleet.start();
  keys = await makeKeys(fleet);
  await fleet.spawnWorker({ id: 'wf-ui-w1', concurrency: 4 });
}, 120_000);

afterAll(async () => {
  for (const p of opened) await p.context.close();
  await stopAndVerifyClean(fleet, redis);
  await redis.quit();
});

afterEach(() => {
  for (const p of opened) {
    expect(foreignRequests(p.requests, fleet.url)).toEqual([]);
    expect(p.problems).toEqual([]);
  }
});

async function signIn(key: string, hash: string): Promise<RecordedPage & { loads: () => number }> {
  const recorded = await openPage(browser());
  opened.push(recorded);
  let loads = 0;
  recorded.page.on('load', () => loads++);
  await recorded.page.goto(`${fleet.url}/`);
  await recorded.page.getByLabel('API key').fill(key);
  await recorded.page.getByRole('button', { name: 'Sign in' }).click();
  await recorded.page.getByRole('navigation', { name: 'console' }).waitFor();
  await recorded.page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  return { ...recorded, loads: () => loads };
}

async function submitWorkflow(body: unknown, key: string): Promise<{ id: string }> {
  const res = await fleet.request('POST', '/v1/workflows', body, {}, { key });
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string };
}

async function workflowState(id: string): Promise<{ state: string; steps: Array<{ id: string; state: string }> }> {
  return (await fleet.request('GET', `/v1/workflows/${id}`)).body;
}

async function waitForState(id: string, step: string, state: string): Promise<void> {
  await waitFor(
    async () => (await workflowState(id)).steps.find((s) => s.id === step)?.state === state,
    30_000,
    `step ${step} of ${id} to be ${state}`,
  );
}

const node = (page: Page, step: string) => page.locator(`g.wf-node[data-step="${step}"]`);
const details = (page: Page) => page.locator('#step-details');

describe('workflows in the console', () => {
  it('draws the review loop as a graph that follows it live; Approve, after its confirmation, finishes it', async () => {
    const { page, loads, requests } = await signIn(keys.submitter.key, '#/workflows');
    await page.locator('#workflows-table table').waitFor();
    await expect(page.locator('#role').textContent()).resolves.toBe('app-one (submitter)');
    const wf = await submitWorkflow(reviewLoop, keys.submitter.key);
    await page.getByRole('link', { name: wf.id }).click();

    // Every step is a node; the gate's edge back to `fix` is drawn dashed, apart from the `needs` arrows.
    for (const step of ['analyse', 'fix', 'test', 'validate', 'sign-off', 'integrate'])
      await node(page, step).waitFor();
    await expect(page.locator('path.wf-gate-edge').count()).resolves.toBe(1);
    await expect(page.locator('path.wf-edge:not(.wf-gate-edge)').count()).resolves.toBe(5);
    // Columns by dependency depth: each step right of what it needs.
    const x = async (step: string) => (await node(page, step).boundingBox())!.x;
    const xs = await Promise.all(['analyse', 'fix', 'test', 'validate', 'sign-off', 'integrate'].map(x));
    for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThan(xs[i - 1]!);

    // The gate rejected round 1: fix ran again (round 2 of 3), and then sign-off waits for a person.
    await page.getByRole('button', { name: /^Step fix, task: sleep, \w+, round 2\/3$/ }).waitFor({ timeout: 30_000 });
    await node(page, 'sign-off').and(page.locator('[data-state="waiting_approval"]')).waitFor({ timeout: 30_000 });
    await expect(node(page, 'sign-off').textContent()).resolves.toContain('waiting for approval');
    await expect(node(page, 'integrate').getAttribute('data-state')).resolves.toBe('pending');
    await expect(page.locator('#workflow-state').textContent()).resolves.toBe('waiting_approval');
    await screenshot(page, 'workflow-waiting');

    // By keyboard: Tab to the node of fix and Enter shows its rounds' tasks and the gate's feedback.
    const fix = node(page, 'fix');
    for (let i = 0; i < 40 && !(await fix.evaluate((el) => el === el.ownerDocument.activeElement)); i++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await details(page).getByRole('heading', { name: 'Step fix' }).waitFor();
    await expect(details(page).getByRole('link').count()).resolves.toBe(2);
    await expect(details(page).textContent()).resolves.toContain('round 1 rejected: try again');
    const firstTask = await details(page).getByRole('link').first().getAttribute('href');
    expect(firstTask).toMatch(/^#\/tasks\/.+/);
    await screenshot(page, 'workflow-step-fix');

    // The step waiting for a person: a comment, Approve, a confirmation naming it, and the workflow ends.
    await node(page, 'sign-off').click();
    await details(page).getByRole('heading', { name: 'Step sign-off' }).waitFor();
    await page.getByLabel(/^Comment/).fill('looks right');
    await page.getByRole('button', { name: 'Approve step sign-off' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toContain(`Approve step sign-off of workflow ${wf.id}`);
    await expect(dialog.textContent()).resolves.toContain('looks right');
    await screenshot(page, 'workflow-confirm-approve');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#workflow-state').getByText('succeeded').waitFor({ timeout: 30_000 });
    await expect(node(page, 'integrate').getAttribute('data-state')).resolves.toBe('succeeded');
    await expect(node(page, 'sign-off').textContent()).resolves.toContain('decided by app-one');
    await expect(page.getByRole('button', { name: 'Cancel workflow' }).count()).resolves.toBe(0);
    await page.locator('#workflow-timeline').getByText('succeeded').last().waitFor();
    expect(loads()).toBe(1);
    const events = (await fleet.request('GET', `/v1/workflows/${wf.id}/events`)).body.events as Array<{
      kind: string;
      step: string | null;
      data: unknown;
    }>;
    expect(events.find((e) => e.kind === 'step_approved')).toMatchObject({ step: 'sign-off' });
    expect(JSON.stringify(events.find((e) => e.kind === 'step_approved')?.data)).toContain('looks right');
    expect((await workflowState(wf.id)).state).toBe('succeeded');
    await screenshot(page, 'workflow-succeeded');
    // The workflow's page read it whole and its events since the last shown: no request per step.
    const api = requests.map((url) => new URL(url).pathname).filter((p) => p.startsWith(`/v1/workflows/${wf.id}`));
    expect(new Set(api)).toEqual(
      new Set([
        `/v1/workflows/${wf.id}`,
        `/v1/workflows/${wf.id}/events`,
        `/v1/workflows/${wf.id}/steps/sign-off/approve`,
      ]),
    );
  }, 90_000);

  it('shows a reader the graph and the list, and no buttons', async () => {
    const wf = await submitWorkflow(
      {
        name: 'wait-for-reader',
        steps: [
          { id: 'split', task: { type: 'echo' } },
          { id: 'left', needs: ['split'], task: { type: 'echo' } },
          { id: 'right', needs: ['split'], task: { type: 'echo' } },
          { id: 'check-left', validates: 'left', needs: ['left'], task: { type: 'judge' } },
          { id: 'join', needs: ['check-left', 'right'], task: { type: 'echo' } },
          { id: 'ask', needs: ['join'], approval: { note: 'nobody answers' } },
        ],
      },
      fleet.adminKey,
    );
    await waitForState(wf.id, 'ask', 'waiting_approval');
    const { page } = await signIn(keys.reader.key, '#/workflows');
    await page.getByLabel('State').selectOption('waiting_approval');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('link', { name: wf.id }).waitFor();
    await waitFor(
      async () =>
        (await page.locator('#workflows-table tbody tr').allTextContents()).every((t) => t.includes('waiting')),
      10_000,
      'the filter to show waiting workflows only',
    );
    await screenshot(page, 'workflows-list');
    await page.getByRole('link', { name: wf.id }).click();
    await node(page, 'ask').and(page.locator('[data-state="waiting_approval"]')).waitFor();
    // The waiting step is chosen at once; its details show, without Approve, Reject or a comment.
    await details(page).getByRole('heading', { name: 'Step ask' }).waitFor();
    await expect(details(page).textContent()).resolves.toContain('nobody answers');
    await expect(page.locator('button.action').count()).resolves.toBe(0);
    await expect(page.getByLabel(/^Comment/).count()).resolves.toBe(0);
    await screenshot(page, 'workflow-reader');
  });

  it("shows the API's refusal as an error, and cancels the submitter's own workflow", async () => {
    const wf = await submitWorkflow(
      {
        name: 'admins-decide',
        steps: [
          { id: 'build', task: { type: 'echo', payload: 'built' } },
          { id: 'release-ok', needs: ['build'], approval: { role: 'admin', note: 'an admin signs releases' } },
          { id: 'release', needs: ['release-ok'], task: { type: 'echo', payload: 'released' } },
        ],
      },
      keys.submitter.key,
    );
    await waitForState(wf.id, 'release-ok', 'waiting_approval');
    const { page } = await signIn(keys.submitter.key, `#/workflows/${wf.id}`);
    await details(page).getByRole('heading', { name: 'Step release-ok' }).waitFor();
    await page.getByRole('button', { name: 'Approve step release-ok' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#status.error').getByText('403').waitFor();
    await expect(page.locator('#status').textContent()).resolves.toContain('this key may not do that');
    await screenshot(page, 'workflow-refused');
    expect((await workflowState(wf.id)).state).toBe('waiting_approval');

    await page.getByRole('button', { name: `Cancel workflow ${wf.id}` }).click();
    await expect(page.getByRole('dialog').textContent()).resolves.toContain(`Cancel workflow ${wf.id}`);
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#workflow-state').getByText('cancelled').waitFor();
    await expect(node(page, 'release').getAttribute('data-state')).resolves.toBe('cancelled');
    expect((await workflowState(wf.id)).state).toBe('cancelled');
  });

  it("tells a key that reads another submitter's workflow that it is not there", async () => {
    const wf = await submitWorkflow({ steps: [{ id: 'only', task: { type: 'echo' } }] }, keys.submitter.key);
    const { page } = await signIn(keys.submitter2.key, `#/workflows/${wf.id}`);
    await page.locator('#status.error').getByText('404').waitFor();
    await expect(page.locator('#status').textContent()).resolves.toContain('not a workflow of this key');
    await expect(page.locator('g.wf-node').count()).resolves.toBe(0);
  });
});
