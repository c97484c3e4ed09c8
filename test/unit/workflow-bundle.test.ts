/**
 * The workflow bundle carries no schema library: workflow code imports the request and option
 * types (inferred from zod schemas) as types only, and its own input check is zod-free. Checked on
 * the bundle production workers load (test/run.ts builds it; else it is built here).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildWorkflowBundle } from '../../src/build-bundle';

async function bundleCode(): Promise<string> {
  const prebuilt = process.env.CINDER_WORKFLOW_BUNDLE;
  if (prebuilt) return fs.readFileSync(prebuilt, 'utf8');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-bundle-'));
  try {
    return fs.readFileSync((await buildWorkflowBundle(path.join(dir, 'workflow-bundle.js'))).file, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the workflow bundle', () => {
  it('holds no zod, and none of the domain modules that load it', async () => {
    const code = await bundleCode();
    // The bundle names each module it holds by its path: the check sees what is in it.
    assert.ok(code.includes('src/domain/volume.ts'), 'the bundle names its modules (src/domain/volume.ts)');
    assert.ok(code.includes('node_modules/@temporalio/workflow'), 'and the packages they come from');
    assert.ok(!code.includes('node_modules/zod/'), 'zod is not bundled');
    for (const m of ['validation', 'create-options', 'schema-errors'])
      assert.ok(!code.includes(`src/domain/${m}.ts`), `src/domain/${m}.ts (imports zod) is not bundled`);
  });
});
