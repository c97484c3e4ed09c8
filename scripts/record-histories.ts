/**
 * Records the histories the determinism guard (test/unit/replay.test.ts) replays: each scenario runs
 * on a real cluster (test/support/cluster.ts: a dev server, a scheduler and two volume workers) and
 * its workflow history is written to test/histories/<scenario>.json.
 *
 *   npx tsx scripts/record-histories.ts [scenario...]      (default: every scenario)
 *
 * Files are named by the workflow shape that recorded them: `create-volume-<scenario>.json` were
 * recorded before the three flows on local activities (they replay through the frozen body,
 * src/workflows/create-volume-v1.ts), `create-volume-three-flows-<scenario>.json` before the API
 * flow became one step (PATCH_ONE_STEP_API_FLOW); both are kept as they are. This script writes the
 * current shape, `create-volume-one-step-<scenario>.json`, next to them. After a deliberate, versioned
 * change (patched(), or a new workflow type), give the new shape its own names and keep the old
 * files. A replay failure after an unversioned edit means running creates would break: fix the
 * code, not the histories.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VolumeService } from '../src/client/volume-service';
import { historyToJsonObject } from '../test/histories/history-json';
import { eventually, expectCreateFailure, startCluster, type Cluster } from '../test/support/cluster';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'test', 'histories');

export interface RecordedHistory {
  /** What the scenario exercises. */
  scenario: string;
  description: string;
  workflow_id: string;
  workflow_type: string;
  /** The SDK that ran it (replays must keep working as it is upgraded). */
  recorded_with: { sdk: string; recorded_at: string };
  /** The history in proto3 JSON, as `temporal workflow show --output json` writes it. */
  history: unknown;
}

interface Scenario {
  name: string;
  description: string;
  /** Runs on the cluster; returns the workflow ids to record, by file name. */
  run(c: Cluster): Promise<Record<string, string>>;
}

/** The current workflow shape's file names (see the header). */
const SHAPE = 'one-step';

const SCENARIOS: Scenario[] = [
  {
    name: 'success',
    description: 'a plain create: API flow, one scheduling pass, create on the first backend, finish',
    async run(c) {
      const h = await c.create({ name: 'replay-success', size: 1 });
      await h.result();
      return { 'create-volume-success': h.workflowId };
    },
  },
  {
    name: 'reschedule',
    description:
      'the first backend fails with VolumeBackendAPIException: compensation, reschedule, success on the second',
    async run(c) {
      await c.store.addFaultRule({
        host: c.host('A'),
        op: 'create',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: 1,
        volume_name: 'replay-reschedule',
      });
      const h = await c.create({ name: 'replay-reschedule', size: 1 });
      const r = await h.result();
      if (r.attempts.length !== 2)
        throw new Error(`reschedule scenario: expected 2 attempts, got ${JSON.stringify(r.attempts)}`);
      return { 'create-volume-reschedule': h.workflowId };
    },
  },
  {
    name: 'no-reschedule',
    description: 'the backend fails with ImageTooBig (a no-reschedule type): compensation, volume in error',
    async run(c) {
      await c.store.addFaultRule({
        host: c.host('A'),
        op: 'create',
        action: 'error',
        error_type: 'ImageTooBig',
        remaining: 1,
        volume_name: 'replay-no-reschedule',
      });
      const h = await c.create({ name: 'replay-no-reschedule', size: 1 });
      await expectCreateFailure(h, 'ImageTooBig');
      return { 'create-volume-no-reschedule': h.workflowId };
    },
  },
  {
    name: 'cancel',
    description: 'cancelled while the backend create runs: the create stops, every step is compensated',
    async run(c) {
      await c.store.addFaultRule({
        host: c.host('A'),
        op: 'create',
        action: 'hang',
        remaining: 1,
        volume_name: 'replay-cancel',
      });
      const h = await c.create({ name: 'replay-cancel', size: 1 });
      await eventually(
        async () => (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.start' })).length > 0,
        30_000,
        'the backend create to start',
      );
      await h.cancel();
      await expectCreateFailure(h, 'CancelledFailure');
      return { 'create-volume-cancel': h.workflowId };
    },
  },
  {
    name: 'rejected',
    description: 'invalid input: the API flow fails before any volume row exists',
    async run(c) {
      const h = await c.create({ name: 'replay-rejected', size: 0 });
      await expectCreateFailure(h, 'InvalidInput');
      return { 'create-volume-rejected': h.workflowId };
    },
  },
  {
    name: 'backend-down',
    description:
      "the chosen backend's worker is down: schedule-to-start timeout, cleanup child workflow, reschedule; the cleanup finishes when it is back",
    async run(c) {
      await c.worker('A').stop('SIGTERM');
      const h = await c.create({ name: 'replay-backend-down', size: 1 });
      const r = await h.result();
      if (r.attempts[0]?.cleanup !== 'handed to a cleanup workflow')
        throw new Error(`backend-down scenario: ${JSON.stringify(r.attempts)}`);
      await c.startVolumeWorker('A');
      const cleanupId = `cleanup-volume-${h.volumeId}-attempt-1`;
      await c.client.workflow.getHandle(cleanupId).result();
      return { 'create-volume-backend-down': h.workflowId, 'cleanup-backend-volume': cleanupId };
    },
  },
  {
    name: 'delete',
    description:
      'an available volume deleted: deleting, driver delete on its backend, capacity and quota given back, soft delete',
    async run(c) {
      const h = await c.create({ name: 'replay-delete', size: 1 });
      await h.result();
      const d = await deleteService(c).delete(h.volumeId);
      await d.result();
      return { 'delete-volume': d.workflowId };
    },
  },
  {
    name: 'delete-force-creating',
    description:
      'a volume still creating deleted with force: its create is cancelled and compensated first, then the delete',
    async run(c) {
      await c.store.addFaultRule({
        host: c.host('A'),
        op: 'create',
        action: 'hang',
        remaining: 1,
        volume_name: 'replay-delete-creating',
      });
      const h = await c.create({ name: 'replay-delete-creating', size: 1 });
      await eventually(
        async () => (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.start' })).length > 0,
        30_000,
        'the backend create to start',
      );
      const d = await deleteService(c).delete(h.volumeId, { force: true });
      const r = await d.result();
      if (!r.create_cancelled) throw new Error(`delete-force-creating scenario: ${JSON.stringify(r)}`);
      return { 'delete-volume-force-creating': d.workflowId };
    },
  },
];

function deleteService(c: Cluster): VolumeService {
  return new VolumeService(c.client, c.store, { taskQueue: c.taskQueue });
}

/** Compact, one event a line: small files whose diffs show which events changed. */
function serialize(record: RecordedHistory): string {
  const { history, ...meta } = record;
  const events = (history as { events: unknown[] }).events;
  const head = JSON.stringify(meta, null, 1).replace(/\n}$/, '');
  return `${head},\n "history": {"events": [\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n}\n`;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const chosen = only.length > 0 ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  // A is larger, so the CapacityWeigher tries it first; every fault rule is on A.
  const c = await startCluster({
    backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }],
  });
  const sdk = (
    JSON.parse(fs.readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')) as { version: string }
  ).version;
  try {
    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const s of chosen) {
      process.stderr.write(`[record] ${s.name}: ${s.description}\n`);
      const ids = await s.run(c);
      for (const [file, workflowId] of Object.entries(ids)) {
        const handle = c.client.workflow.getHandle(workflowId);
        const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
        const record: RecordedHistory = {
          scenario: s.name,
          description: s.description,
          workflow_id: workflowId,
          workflow_type: description.type,
          recorded_with: { sdk, recorded_at: new Date().toISOString() },
          history: historyToJsonObject(history),
        };
        const out = path.join(
          HISTORIES_DIR,
          `${file.replace(/^(create-volume|cleanup-backend-volume)/, `$1-${SHAPE}`)}.json`,
        );
        fs.writeFileSync(out, serialize(record));
        process.stderr.write(
          `[record]   ${path.relative(process.cwd(), out)}: ${history.events?.length ?? 0} events, ${(fs.statSync(out).size / 1024).toFixed(1)} KiB\n`,
        );
      }
    }
  } finally {
    await c.stop();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`record-histories: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
