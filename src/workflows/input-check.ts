/**
 * The workflow's own check of its input, before any step runs: a raw start (the Temporal CLI, any
 * SDK) can send anything. Small and dependency-free so the workflow bundle stays light; the full
 * request and options rules run in the API flow's first activity (domain/validation.ts).
 */
export interface InputProblem {
  field: string;
  message: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const INPUT_KEYS = ['request', 'options', 'resume'];

function isObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const problem = (field: string, message: string): InputProblem => ({
  field,
  message: `Invalid input for field '${field}': ${message}`,
});

/** Where the run stands, from workflowInfo(). */
export interface RunInfo {
  workflowId: string;
  /** Set only on a run that continues an earlier run as new. */
  continuedFromExecutionRunId?: string;
}

/** The continue-as-new carry, accepted only from a run of this very create continuing as new. */
function checkResume(resume: unknown, volumeId: string, run: RunInfo): InputProblem | null {
  if (!run.continuedFromExecutionRunId)
    return problem('resume', 'is internal to the workflow (continue-as-new) and may not be given by a caller');
  if (!isObject(resume)) return problem('resume', 'must be an object');
  const spec = resume.spec;
  if (
    !isObject(spec) ||
    !isObject(spec.request) ||
    spec.request.volume_id !== volumeId ||
    !isObject(spec.options) ||
    !isObject(spec.volume_type)
  ) {
    return problem('resume.spec', `must be the spec of volume ${volumeId}`);
  }
  if (!isObject(resume.filter_properties)) return problem('resume.filter_properties', 'must be an object');
  if (!Array.isArray(resume.attempts)) return problem('resume.attempts', 'must be a list');
  if (
    resume.alternates !== undefined &&
    !(Array.isArray(resume.alternates) && resume.alternates.every((a) => typeof a === 'string'))
  ) {
    return problem('resume.alternates', 'must be a list of backend ids');
  }
  return null;
}

/**
 * The first problem with a create's input, or null: its shape, a workflow id that matches the
 * volume id (`create-volume-<volume_id>`), and a carry only where a run really continues as new.
 */
export function checkCreateVolumeInput(input: unknown, run: RunInfo): InputProblem | null {
  if (!isObject(input)) return problem('input', 'must be an object with a request');
  const unknownKey = Object.keys(input).find((k) => !INPUT_KEYS.includes(k));
  if (unknownKey !== undefined) return problem(unknownKey, 'is not a known field');
  const request = input.request;
  if (!isObject(request))
    return problem('request', request === undefined || request === null ? 'is required' : 'must be an object');
  const volumeId = request.volume_id;
  if (volumeId === undefined || volumeId === null) return problem('volume_id', 'is required');
  if (typeof volumeId !== 'string' || !ID.test(volumeId))
    return problem('volume_id', 'must be an id of letters, digits, ".", "_" or "-" (at most 64 characters)');
  if (input.options !== undefined && input.options !== null && !isObject(input.options))
    return problem('options', 'must be an object');
  const expected = `create-volume-${volumeId}`;
  if (run.workflowId !== expected)
    return problem('workflow_id', `must be ${expected} for volume ${volumeId}, got ${run.workflowId}`);
  if (input.resume !== undefined) return checkResume(input.resume, volumeId, run);
  return null;
}
