/**
 * The determinism guard: every recorded history in test/histories/ (scripts/record-histories.ts:
 * success, reschedule, no-reschedule failure, cancellation, rejected request, backend down with
 * its cleanup workflow) is replayed against the current workflow code. A change that would make
 * running creates take a different path on replay (reordered, added or removed activities, timers,
 * children) fails here with the SDK's DeterminismViolationError, before it reaches a cluster.
 *
 * The workflow code is the prebuilt bundle when CINDER_WORKFLOW_BUNDLE names one (npm test builds it
 * from src/workflows with the OpenTelemetry workflow interceptors), else the same bundled here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { bundleOptions } from '../../src/build-bundle';
import { historyFromJsonObject } from '../histories/history-json';

const DIR = path.resolve(__dirname, '..', 'histories');
/** The scenarios the guard must always have (a missing file must not pass silently). */
const SCENARIOS = ['success', 'reschedule', 'no-reschedule', 'cancel'];
/** Creates recorded before the three flows on local activities (they replay through the frozen
 *  body), before the one-step API flow, and in the current shape (scripts/record-histories.ts), and
 *  the deletes. */
const REQUIRED = [
  ...SCENARIOS.flatMap((s) => [`create-volume-${s}`, `create-volume-three-flows-${s}`, `create-volume-one-step-${s}`]),
  'delete-volume',
  'delete-volume-force-creating',
];

interface Recorded {
  scenario: string;
  workflow_id: string;
  workflow_type: string;
  history: unknown;
}

const files = fs.existsSync(DIR)
  ? fs
      .readdirSync(DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

describe('replay of recorded histories against the current workflow code', { timeout: 180_000 }, () => {
  let options: ReplayWorkerOptions;

  before(async () => {
    // Replay logs (e.g. 'Workflow failed') are suppressed by the SDK; keep the SDK's own quiet.
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
    const bundlePath = process.env.CINDER_WORKFLOW_BUNDLE;
    if (bundlePath) {
      assert.ok(fs.existsSync(bundlePath), `CINDER_WORKFLOW_BUNDLE names ${bundlePath}, which does not exist`);
      options = { workflowBundle: { codePath: bundlePath }, replayName: 'cinder-replay' };
    } else {
      const quiet = {
        log() {},
        trace() {},
        debug() {},
        info() {},
        warn() {},
        error: (m: string) => process.stderr.write(`[bundle] ${m}\n`),
      };
      const { code } = await bundleWorkflowCode({ ...bundleOptions(), logger: quiet });
      options = { workflowBundle: { code }, replayName: 'cinder-replay' };
    }
  });

  it('has the recorded scenarios', () => {
    for (const name of REQUIRED)
      assert.ok(
        files.includes(`${name}.json`),
        `test/histories/${name}.json is missing (npx tsx scripts/record-histories.ts)`,
      );
  });

  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      const recorded = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as Recorded;
      const history = historyFromJsonObject(recorded.history);
      assert.ok((history.events?.length ?? 0) > 0, `${file} has events`);
      const started = history.events![0].workflowExecutionStartedEventAttributes;
      assert.equal(started?.workflowType?.name, recorded.workflow_type, `${file}: workflow type`);
      try {
        await Worker.runReplayHistory(options, history, recorded.workflow_id);
      } catch (err) {
        assert.fail(
          `${file} (${recorded.scenario}) no longer replays: ${(err as Error).name}: ${(err as Error).message}`,
        );
      }
    });
  }
});
