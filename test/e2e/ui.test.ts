/**
 * The Temporal web UI (v2.42, the dev server's) in a headless Chromium, on a rescheduled create:
 * the list filtered by the project's search attributes, and the create's page with both attempts,
 * their backends and the compensation: the backend steps (activities, with their summaries) and the
 * database steps (local activities: markers on the timeline, their summaries under User Metadata),
 * the static summary and the current details. Screenshots go to test-artifacts/e2e/; with UPDATE_DOCS_SCREENSHOT=1 the create's page
 * is also copied to docs/images/ui-rescheduled-create.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { VolumeService } from '../../src/client/volume-service';
import type { VolumeCreateHandle } from '../../src/client/volumes';
import { eventually, startCluster, type Cluster } from '../support/cluster';
import {
  gotoUntilVisible,
  launchChromium,
  temporalUi,
  withTemporalAddress,
  type TemporalUi,
} from '../support/temporal-ui';

const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'e2e');
const DOCS_SCREENSHOT = path.join(ROOT, 'docs', 'images', 'ui-rescheduled-create.png');
/** The machine is small and shared: the UI may take a while to answer. */
const UI_TIMEOUT = 60_000;

describe('Temporal UI: a rescheduled create', { timeout: 600_000 }, () => {
  let ui: TemporalUi | undefined;
  let c: Cluster | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let resched: VolumeCreateHandle;
  let plain: VolumeCreateHandle;
  let A: string; // backend ids, host@backend#pool
  let B: string;
  let hostB: string;
  const reschedName = 'resched-ui';

  before(
    async () => {
      fs.rmSync(ARTIFACTS, { recursive: true, force: true }); // no stale failure pictures
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      // The server log is written only when this file starts its own server (run alone).
      const server = await temporalUi(path.join(ARTIFACTS, 'temporal-server.log'));
      ui = server;
      // A is larger, so the CapacityWeigher picks it first; it fails once for the named volume.
      c = await withTemporalAddress(server.address, () =>
        startCluster({ backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }] }),
      );
      A = c.pool('A').backend_id;
      B = c.pool('B').backend_id;
      hostB = c.host('B');
      await c.store.addFaultRule({
        host: c.host('A'),
        op: 'create',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: 1,
        volume_name: reschedName,
      });

      resched = await c.create({ name: reschedName, size: 3 });
      const r = await resched.result();
      assert.equal(r.backend_id, B, 'the rescheduled create ends on B');
      assert.deepEqual(
        r.attempts.map((a) => [a.attempt, a.backend_id, a.outcome]),
        [
          [1, A, 'failed'],
          [2, B, 'succeeded'],
        ],
      );
      plain = await c.create({ name: 'plain-ui', size: 1 });
      assert.equal((await plain.result()).backend_id, A, 'the plain create ends on A');

      // The list page reads visibility: wait until both creates are indexed with their last upserts.
      const client = c.client;
      const ids = async (query: string) => {
        const found: string[] = [];
        for await (const wf of client.workflow.list({ query })) found.push(wf.workflowId);
        return found;
      };
      await eventually(
        async () => (await ids(`BackendHost="${hostB}" AND VolumeStatus="available"`)).includes(resched.workflowId),
        60_000,
        'visibility of the rescheduled create',
      );
      await eventually(
        async () => (await ids(`VolumeId="${plain.volumeId}" AND VolumeStatus="available"`)).includes(plain.workflowId),
        60_000,
        'visibility of the plain create',
      );

      browser = await launchChromium();
      context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      context.setDefaultTimeout(UI_TIMEOUT);
      context.setDefaultNavigationTimeout(UI_TIMEOUT);
      page = await context.newPage();
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await browser?.close().catch(() => undefined);
    try {
      await c?.stopAfterLeakCheck();
    } finally {
      await ui?.stop();
    }
  });

  const listUrl = (query: string) =>
    `${ui!.uiUrl}/namespaces/${ui!.namespace}/workflows?query=${encodeURIComponent(query)}`;
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  /** A wide, tall picture (the whole timeline with its labels): the page scrolls inside its own
   *  container, so a full-page screenshot would not show more; the viewport grows instead. */
  const tallShot = async (name: string): Promise<string> => {
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.setViewportSize({ width: 1800, height: 1320 });
    try {
      await page.screenshot({ path: file });
    } finally {
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
    return file;
  };
  /** Runs a check; on failure leaves a screenshot of what the page showed. */
  const withFailureShot = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      await page?.screenshot({ path: path.join(ARTIFACTS, `failure-${name}.png`) }).catch(() => undefined);
      throw err;
    }
  };
  /** The workflow ids the list page shows (its Workflow ID links). */
  const listedIds = async () =>
    (await page.getByRole('link', { name: /^create-volume-/ }).allInnerTexts()).map((s) => s.trim()).sort();

  it('lists the rescheduled create when filtered by BackendHost, and not the plain one', () =>
    withFailureShot('list-backendhost', async () => {
      await gotoUntilVisible(
        page,
        listUrl(`BackendHost="${hostB}"`),
        page.getByRole('link', { name: resched.workflowId, exact: true }),
      );
      // The filter is applied, as a chip showing the attribute and its value.
      await page.getByText(`"${hostB}"`).first().waitFor();
      assert.deepEqual(
        await listedIds(),
        [resched.workflowId],
        `BackendHost="${hostB}" lists only the create that ended on B`,
      );
      await shot('ui-list-backendhost');
    }));

  it('lists the plain create when filtered by its VolumeId, and not the rescheduled one', () =>
    withFailureShot('list-volumeid', async () => {
      await gotoUntilVisible(
        page,
        listUrl(`VolumeId="${plain.volumeId}"`),
        page.getByRole('link', { name: plain.workflowId, exact: true }),
      );
      assert.deepEqual(await listedIds(), [plain.workflowId], `VolumeId="${plain.volumeId}" lists only that create`);
      await shot('ui-list-volumeid');
    }));

  it("shows both attempts, their backends and the compensation on the create's history", () =>
    withFailureShot('history', async () => {
      const obj = `volume-${resched.volumeId}`;
      // The Event History timeline labels each backend activity "<activity type> • <summary>" and each
      // database step (a local activity, a marker) by its activity type; their summaries are listed
      // under User Metadata (next test).
      // The volume worker that makes the volume also finishes the create (Cinder's c-vol does).
      const expected = [
        'createVolumeApiFlow',
        'scheduleCreateVolume',
        `createVolumeFromSpec • create ${obj} on ${A} and finish it`,
        `deleteVolumeOnBackend • compensate: delete ${obj} on ${A}`,
        'releaseCapacity',
        'prepareReschedule',
        `createVolumeFromSpec • create ${obj} on ${B} and finish it`,
      ];
      const labels = page.locator('svg text');
      await gotoUntilVisible(
        page,
        `${ui!.uiUrl}/namespaces/${ui!.namespace}/workflows/${encodeURIComponent(resched.workflowId)}`,
        labels.filter({ hasText: `create ${obj} on ${A}` }),
      );
      assert.match(page.url(), /\/history$/, 'the workflow page opens on its History tab');
      await page.getByRole('heading', { name: resched.workflowId }).waitFor();
      const timeline = async () => (await labels.allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
      let missing: string[] = [];
      await eventually(
        async () => {
          const shown = await timeline();
          missing = expected.filter((e) => !shown.includes(e));
          return missing.length === 0;
        },
        UI_TIMEOUT,
        'the timeline labels',
      ).catch(() => undefined);
      assert.deepEqual(missing, [], `timeline labels missing; shown: ${JSON.stringify(await timeline())}`);
      // Exactly two attempts: two scheduling passes, two backend creates (on A, then on B).
      const shown = await timeline();
      assert.equal(shown.filter((s) => s.startsWith('createVolumeFromSpec • ')).length, 2, 'two backend creates');
      assert.equal(shown.filter((s) => s === 'scheduleCreateVolume').length, 2, 'two scheduling passes');

      // The event table gives each Activity Task Scheduled row its summary as well.
      for (const summary of [`create ${obj} on ${A}`, `compensate: delete ${obj} on ${A}`, `create ${obj} on ${B}`]) {
        await page.locator('tr[data-testid="event-summary-row"]').filter({ hasText: summary }).first().waitFor();
      }
      // The Result panel shows where the volume ended.
      await page.getByText(`"backend_id": "${B}"`).first().waitFor();

      const file = await tallShot('ui-rescheduled-create');
      if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
        fs.mkdirSync(path.dirname(DOCS_SCREENSHOT), { recursive: true });
        fs.copyFileSync(file, DOCS_SCREENSHOT);
      }
    }));

  it('shows the static summary, every activity summary with its outcome, and the current details under User Metadata', () =>
    withFailureShot('user-metadata', async () => {
      const obj = `volume-${resched.volumeId}`;
      if (!page.url().includes(resched.workflowId)) {
        await gotoUntilVisible(
          page,
          `${ui!.uiUrl}/namespaces/${ui!.namespace}/workflows/${encodeURIComponent(resched.workflowId)}`,
          page.getByRole('tab', { name: 'User Metadata' }),
        );
      }
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.waitForURL(/\/user-metadata$/);

      // Summary and details are markdown, each rendered in its own iframe under its heading.
      const rendered = (heading: string) =>
        page.getByRole('heading', { name: heading, exact: true }).locator('xpath=following::iframe[1]').contentFrame();
      await rendered('Summary').getByText(`create volume ${reschedName}: 3 GiB`, { exact: true }).waitFor();
      await rendered('Details').getByText(resched.volumeId).first().waitFor();
      const current = rendered('Current Details');
      await current.getByText('available', { exact: true }).waitFor();
      await current.getByText(B).first().waitFor();

      // Events with Metadata: one row per step, "<kind> | <summary> | <status>", in history order.
      // Backend steps are activities with their outcome; database steps are local activities (the
      // UI shows no status for their markers).
      const section = page.getByRole('heading', { name: 'Events with Metadata', exact: true }).locator('xpath=../..');
      const row = (summary: string) => section.getByText(summary, { exact: true }).locator('xpath=../..');
      const steps = [
        ['api flow: validate, reserve quota, create entry, commit quota', 'Local Activity', 'Unspecified'],
        ['schedule attempt 1/3', 'Local Activity', 'Unspecified'],
        [`create ${obj} on ${A} and finish it`, 'Activity', 'Failed'],
        [`compensate: delete ${obj} on ${A}`, 'Activity', 'Completed'],
        ['compensate: give back capacity of attempt 1', 'Local Activity', 'Unspecified'],
        ['reschedule after attempt 1', 'Local Activity', 'Unspecified'],
        ['schedule attempt 2/3', 'Local Activity', 'Unspecified'],
        [`create ${obj} on ${B} and finish it`, 'Activity', 'Completed'],
      ] as const;
      for (const [summary, kind, status] of steps) {
        await row(summary).getByText(kind, { exact: true }).waitFor();
        await row(summary).getByText(status, { exact: true }).waitFor();
      }
      const order = (await section.locator('span.text-sm').allInnerTexts()).map((s) => s.trim());
      const positions = steps.map(([summary]) => order.indexOf(summary));
      assert.deepEqual(
        positions,
        [...positions].sort((x, y) => x - y),
        `steps in history order; listed: ${JSON.stringify(order)}`,
      );
      assert.ok(!positions.includes(-1), `every step listed; listed: ${JSON.stringify(order)}`);
      await tallShot('ui-user-metadata');
    }));

  it('shows a delete like a create: found by VolumeStatus, its steps with summaries, its current details', () =>
    withFailureShot('delete', async () => {
      const svc = new VolumeService(c!.client, c!.store, { taskQueue: c!.taskQueue });
      const d = await svc.delete(plain.volumeId);
      assert.equal((await d.result()).status, 'deleted');
      const found: string[] = [];
      await eventually(
        async () => {
          found.length = 0;
          for await (const wf of c!.client.workflow.list({
            query: `WorkflowType="deleteVolume" AND VolumeId="${plain.volumeId}" AND VolumeStatus="deleted"`,
          }))
            found.push(wf.workflowId);
          return found.includes(d.workflowId);
        },
        60_000,
        'visibility of the delete',
      );

      await gotoUntilVisible(
        page,
        listUrl(`VolumeStatus="deleted"`),
        page.getByRole('link', { name: d.workflowId, exact: true }),
      );
      await shot('ui-list-deleted');

      const obj = `volume-${plain.volumeId}`;
      const expected = [
        'beginDeleteVolume • check volume status: deleting',
        `deleteVolume • delete ${obj} on ${A}`,
        'releaseVolumeCapacity • give back capacity',
        'releaseVolumeQuota • give back quota: 1 volume, 1 GiB',
        'finishDeleteVolume • soft-delete volume row: deleted',
      ];
      const labels = page.locator('svg text');
      await gotoUntilVisible(
        page,
        `${ui!.uiUrl}/namespaces/${ui!.namespace}/workflows/${encodeURIComponent(d.workflowId)}`,
        labels.filter({ hasText: 'check volume status: deleting' }),
      );
      await page.getByRole('heading', { name: d.workflowId }).waitFor();
      const timeline = async () => (await labels.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
      let missing: string[] = [];
      await eventually(
        async () => {
          const shown = await timeline();
          missing = expected.filter((e) => !shown.includes(e));
          return missing.length === 0;
        },
        UI_TIMEOUT,
        'the delete timeline labels',
      ).catch(() => undefined);
      assert.deepEqual(missing, [], `delete timeline labels missing; shown: ${JSON.stringify(await timeline())}`);
      await tallShot('ui-delete');

      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.waitForURL(/\/user-metadata$/);
      const rendered = (heading: string) =>
        page.getByRole('heading', { name: heading, exact: true }).locator('xpath=following::iframe[1]').contentFrame();
      await rendered('Summary').getByText(`delete volume plain-ui: 1 GiB on ${A}`, { exact: true }).waitFor();
      await rendered('Current Details').getByText('deleted', { exact: true }).waitFor();
      await tallShot('ui-delete-user-metadata');
    }));
});
