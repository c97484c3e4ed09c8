import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCreateVolumeInput, type RunInfo } from '../../src/workflows/input-check';

const run: RunInfo = { workflowId: 'create-volume-v1' };
const request = { volume_id: 'v1', project_id: 'p1', size: 1 };
const resume = {
  spec: { request, options: {}, volume_type: { name: 'default', extra_specs: {} } },
  filter_properties: {},
  attempts: [],
};

function field(input: unknown, info: RunInfo = run): string | null {
  const p = checkCreateVolumeInput(input, info);
  if (p) assert.match(p.message, new RegExp(`^Invalid input for field '${p.field.replace(/\./g, '\\.')}': `));
  return p?.field ?? null;
}

describe("the workflow's own input check (raw starts)", () => {
  it('accepts a plain start, and a carry only on a run that continues as new', () => {
    assert.equal(field({ request }), null);
    assert.equal(field({ request, options: { scheduler_max_attempts: 2 } }), null);
    assert.equal(field({ request, resume }, { ...run, continuedFromExecutionRunId: 'r0' }), null);
  });
  it('names the field of garbage inputs instead of throwing a TypeError', () => {
    for (const input of ['a string', null, [], 42, undefined]) assert.equal(field(input), 'input');
    assert.equal(field({}), 'request');
    assert.equal(field({ request: null }), 'request');
    assert.equal(field({ request: 'x' }), 'request');
    assert.equal(field({ request: { ...request, volume_id: null } }), 'volume_id');
    assert.equal(field({ request: { ...request, volume_id: ['v1'] } }), 'volume_id');
    assert.equal(field({ request, options: [] }), 'options');
    assert.equal(field({ request, extra: 1 }), 'extra');
    assert.equal(field(JSON.parse('{"request":{"volume_id":"v1"},"__proto__":{}}')), '__proto__');
  });
  it('refuses a workflow id that is not create-volume-<volume_id>', () => {
    assert.equal(field({ request }, { workflowId: 'create-volume-v2' }), 'workflow_id');
    assert.equal(field({ request }, { workflowId: 'anything' }), 'workflow_id');
  });
  it('refuses a caller-given carry, and a carry of another volume', () => {
    assert.equal(field({ request, resume }), 'resume');
    assert.equal(field({ request, resume: {} }), 'resume');
    const continued = { ...run, continuedFromExecutionRunId: 'r0' };
    assert.equal(field({ request, resume: {} }, continued), 'resume.spec');
    assert.equal(
      field(
        { request, resume: { ...resume, spec: { ...resume.spec, request: { ...request, volume_id: 'v9' } } } },
        continued,
      ),
      'resume.spec',
    );
    assert.equal(field({ request, resume: { ...resume, attempts: {} } }, continued), 'resume.attempts');
  });
});
