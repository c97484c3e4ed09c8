/** The fuzz generator itself: seeded and reproducible, and it reaches every way in and every kind
 *  of case, so the fuzz test (test/integration/fuzz.test.ts) cannot pass by generating nothing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { categoryGroup } from '../support/fuzz-run';
import { FUZZ_PATHS, generateCase, generateCases, type FuzzTargets } from '../support/fuzz-requests';

const targets: FuzzTargets = {
  prefix: 'fzT',
  maxSizeGb: 1000,
  victims: [0, 1].map((i) => ({
    volumeId: `victim-${i}`,
    projectId: `victims-${i}`,
    workflowId: `create-volume-victim-${i}`,
    request: { project_id: `victims-${i}`, size: 1, name: `victim-${i}`, request_id: `victim-req-${i}` },
    status: 'available' as const,
  })),
};

const text = (x: unknown) => JSON.stringify(x);

describe('fuzz request generator', () => {
  it('is reproducible: case i of seed S is the same alone and in a batch, and another seed differs', () => {
    const batch = generateCases(targets, 7, 200);
    for (const i of [0, 57, 199]) assert.equal(text(generateCase(targets, 7, i)), text(batch[i]));
    assert.equal(text(generateCases(targets, 7, 200)), text(batch));
    assert.notEqual(text(generateCases(targets, 8, 200)), text(batch));
  });

  it('reaches every path, every expectation and the targeted starts', () => {
    const cases = generateCases(targets, 1, 2000);
    const paths = new Set(cases.map((c) => c.path));
    assert.deepEqual([...paths].sort(), [...FUZZ_PATHS].sort());
    const kinds = new Set(cases.map((c) => c.expect.kind));
    assert.deepEqual([...kinds].sort(), ['conflict', 'either', 'may-fail', 'own', 'refuse', 'same', 'valid']);
    const groups = new Set(cases.map(categoryGroup));
    for (const g of [
      'size',
      'volume_id',
      'project_id',
      'name',
      'metadata',
      'request_id',
      'input',
      'resume',
      'workflow-id',
      'unknown-key',
      'own-__proto__-key',
      'control',
      'multi',
      'own:raw-other-project',
      'own:raw-forged-resume',
      'own:clone-other-project',
      'reqid:conflict',
      'reqid:same',
    ]) {
      assert.ok(groups.has(g), `no ${g} case in 2000`);
    }
    const controls = cases.filter((c) => c.expect.kind === 'valid').length;
    assert.ok(controls > 50 && controls < 400, `${controls} valid controls in 2000`);
  });

  it('never gives two fresh cases the same volume id', () => {
    const ids = generateCases(targets, 3, 2000)
      .filter((c) => c.victim === undefined && typeof c.volumeId === 'string' && c.volumeId !== '')
      .map((c) => c.volumeId);
    assert.equal(new Set(ids).size, ids.length);
  });
});
