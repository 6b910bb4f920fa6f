/**
 * The console at the scale: 1,000 registered agents and 100 routes, in a real browser (headless
 * Chromium) against a real supervisor (SQLite file, Redis under a private prefix, loops off so nothing changes
 * the rows under the test). The agents are registered through the store with fresh heartbeats; the routes are
 * delayed tasks on 100 capability sets, which nothing runs. The pages must show a page of rows, page on, and make
 * a bounded number of requests: never one per agent or per route.
 */
import type { Page } from 'playwright-core';
import { browserFor, foreignRequests, openPage, screenshot, type RecordedPage } from '../helpers/browser';
import { fileInspector, fleetFor } from '../helpers/fleet';

const AGENTS = 1000;
const ROUTES = 100;
/** How long the requests of an open page are recorded. Generous for polling every 2-3 s, tight for per-row calls. */
const WATCH_MS = 5000;
const MAX_REQUESTS = 20;

const pad = (n: number) => String(n).padStart(4, '0');
const agentId = (n: number) => `scale-${pad(n)}`;
const capability = (n: number) => `cap-${pad(n)}`;

const redis = fileInspector();
const browser = browserFor();
describe('the console at 1,000 agents and 100 routes', () => {
  const opened: RecordedPage[] = [];
  // The pages close before the fleet stops (hooks run in order), and the fleet, inside this block, stops (and
  // is checked clean) before the file's inspector closes.
  afterAll(async () => {
    for (const p of opened) await p.context.close();
  });
  const fleet = fleetFor(redis);

  beforeAll(async () => {
    const f = fleet();
    const now = Date.now();
    for (let n = 1; n <= AGENTS; n++) {
      await f.sup.store.registerAgent(
        {
          ...{ id: agentId(n), capabilities: [capability(((n - 1) % ROUTES) + 1)], types: ['echo'], concurrency: 4 },
          ...{ hostname: 'scale-host', pid: 1000 + n, version: 'test' },
        },
        now,
      );
    }
    const tasks = Array.from({ length: ROUTES }, (_, i) => ({
      type: 'echo',
      requiredCapabilities: [capability(i + 1)],
      delaySeconds: 3600,
    }));
    await f.submitBatch(tasks);
  }, 120_000);

  afterEach(() => {
    for (const p of opened) {
      expect(foreignRequests(p.requests, fleet().url)).toEqual([]);
      expect(p.problems).toEqual([]);
    }
  });

  async function signIn(hash: string): Promise<RecordedPage> {
    const recorded = await openPage(browser());
    opened.push(recorded);
    const { page } = recorded;
    await page.goto(`${fleet().url}/`);
    await page.getByLabel('API key').fill(fleet().adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'console' }).waitFor();
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    return recorded;
  }

  /** The API requests made from now on (a copy taken after `ms` of the page being left open). */
  async function apiRequestsOver(recorded: RecordedPage, ms: number): Promise<string[]> {
    const from = recorded.requests.length;
    await recorded.page.waitForTimeout(ms);
    return recorded.requests.slice(from).filter((url) => new URL(url).pathname.startsWith('/v1/'));
  }

  const rows = (page: Page, table: string) => page.locator(`#${table} tbody tr`);

  it('shows the fleet a page of 100 agents at a time, pages on, and polls one page, not each agent', async () => {
    const recorded = await signIn('#/fleet');
    const { page } = recorded;
    await rows(page, 'fleet-table')
      .filter({ hasText: agentId(1) })
      .waitFor();
    await expect(rows(page, 'fleet-table').count()).resolves.toBe(100);
    await expect(
      rows(page, 'fleet-table')
        .filter({ hasText: agentId(100) })
        .count(),
    ).resolves.toBe(1);
    await expect(
      rows(page, 'fleet-table')
        .filter({ hasText: agentId(101) })
        .count(),
    ).resolves.toBe(0);
    await screenshot(page, 'scale-fleet-page-1');

    const watched = await apiRequestsOver(recorded, WATCH_MS);
    expect(watched.length).toBeGreaterThan(0); // it does refresh
    expect(watched.length).toBeLessThan(MAX_REQUESTS);
    expect(watched.filter((url) => /\/v1\/agents\/[^/?]/.test(url))).toEqual([]);

    // A long table has a pager above it as well: reached and pressed from the keyboard, it keeps the focus.
    const above = page.getByRole('navigation', { name: 'pages, above the list' });
    const next = above.getByRole('button', { name: 'Next page' });
    await next.focus();
    await page.keyboard.press('Enter');
    await rows(page, 'fleet-table')
      .filter({ hasText: agentId(101) })
      .waitFor();
    await expect(rows(page, 'fleet-table').count()).resolves.toBe(100);
    await expect(above.textContent()).resolves.toContain('page 2');
    await expect(page.locator('#fleet-table .pager-below').textContent()).resolves.toContain('page 2');
    await expect(next.evaluate((el) => el === el.ownerDocument.activeElement)).resolves.toBe(true);
    await expect(
      above.getByRole('button', { name: 'Previous page' }).evaluate((el) => el.ownerDocument.activeElement === el),
    ).resolves.toBe(false);
    // Page 2 stays page 2 through the refreshes (a refresh asks for the page shown).
    await apiRequestsOver(recorded, WATCH_MS);
    await expect(
      rows(page, 'fleet-table')
        .filter({ hasText: agentId(1) })
        .count(),
    ).resolves.toBe(0);
    await expect(
      rows(page, 'fleet-table')
        .filter({ hasText: agentId(200) })
        .count(),
    ).resolves.toBe(1);
    await screenshot(page, 'scale-fleet-page-2');
  });

  it('keeps the page asked for when a refresh of the page before answers after the click on Next', async () => {
    const recorded = await signIn('#/fleet');
    const { page } = recorded;
    await rows(page, 'fleet-table')
      .filter({ hasText: agentId(1) })
      .waitFor();
    // Hold the next refresh of page 1 (the timer's; a refresh is scheduled only after the one before ends).
    let release: (() => Promise<void>) | undefined;
    const held = new Promise<void>((resolve) => {
      void page.route(
        (url) => url.pathname === '/v1/agents' && !url.searchParams.has('cursor'),
        async (route) => {
          release = () => route.continue();
          resolve();
        },
      );
    });
    await held;
    await page.locator('.pager-below').getByRole('button', { name: 'Next page' }).click();
    await rows(page, 'fleet-table')
      .filter({ hasText: agentId(101) })
      .waitFor();
    // The held answer arrives late; the next refresh is asked for only once it has been handled.
    const nextRefresh = page.waitForRequest((req) => new URL(req.url()).pathname === '/v1/agents');
    await release!();
    const next = await nextRefresh;
    expect(new URL(next.url()).searchParams.has('cursor')).toBe(true);
    await expect(
      rows(page, 'fleet-table')
        .filter({ hasText: agentId(1) })
        .count(),
    ).resolves.toBe(0);
    await expect(
      rows(page, 'fleet-table')
        .filter({ hasText: agentId(101) })
        .count(),
    ).resolves.toBe(1);
    await page.unrouteAll();
  });

  it('lists the 100 routes on one page, polling the list, not each route', async () => {
    const recorded = await signIn('#/routes');
    const { page } = recorded;
    await rows(page, 'routes-table')
      .filter({ hasText: `echo~${capability(1)}` })
      .waitFor();
    await expect(rows(page, 'routes-table').count()).resolves.toBe(ROUTES);
    await page.getByRole('navigation', { name: 'pages, above the list' }).waitFor();
    // Nothing ran on these routes: each chart cell says so rather than drawing flat lines.
    await expect(page.locator('#routes-table figure.spark', { hasText: 'none ended' }).count()).resolves.toBe(ROUTES);
    await expect(
      rows(page, 'routes-table')
        .filter({ hasText: `echo~${capability(ROUTES)}` })
        .count(),
    ).resolves.toBe(1);
    await screenshot(page, 'scale-routes');

    const watched = await apiRequestsOver(recorded, WATCH_MS);
    expect(watched.length).toBeGreaterThan(0);
    expect(watched.length).toBeLessThan(MAX_REQUESTS);
    expect(watched.filter((url) => /\/v1\/routes\/[^/?]/.test(url))).toEqual([]);
  });
});
