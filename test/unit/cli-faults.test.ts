import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFaultRule } from '../../src/cli/fault-commands';
import { UsageError } from '../../src/cli/errors';

const hosts = ['hostA@lvm', 'hostB@lvm'];
const refused = (args: string[], option: string) =>
  assert.throws(
    () => parseFaultRule(args, hosts),
    (e: unknown) => e instanceof UsageError && e.option === option && e.message.startsWith(`${option}:`),
  );

describe('faults add', () => {
  it('defaults to a create error every time', () => {
    assert.deepEqual(parseFaultRule(['--backend', 'hostA@lvm'], hosts), {
      host: 'hostA@lvm',
      op: 'create',
      action: 'error',
      error_type: null,
      remaining: null,
      probability: null,
      delay_ms: null,
      volume_name: null,
      stage: null,
    });
  });
  it('reads every option', () => {
    assert.deepEqual(
      parseFaultRule(
        [
          '--backend',
          'hostB@lvm',
          '--op',
          'delete',
          '--action',
          'error',
          '--error',
          'VolumeBackendAPIException',
          '--times',
          '2',
          '--probability',
          '0.5',
          '--volume-name',
          'db1',
        ],
        hosts,
      ),
      {
        host: 'hostB@lvm',
        op: 'delete',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: 2,
        probability: 0.5,
        delay_ms: null,
        volume_name: 'db1',
        stage: null,
      },
    );
    assert.equal(
      parseFaultRule(['--backend', 'hostA@lvm', '--action', 'delay', '--delay-ms', '1500'], hosts).delay_ms,
      1500,
    );
  });
  it('names the option at fault', () => {
    refused([], '--backend');
    refused(['--backend', 'hostC@lvm'], '--backend');
    refused(['--backend', 'hostA@lvm', '--op', 'resize'], '--op');
    refused(['--backend', 'hostA@lvm', '--action', 'explode'], '--action');
    refused(['--backend', 'hostA@lvm', '--error', 'Key Error'], '--error');
    refused(['--backend', 'hostA@lvm', '--error', '$(reboot)'], '--error');
    refused(['--backend', 'hostA@lvm', '--error', ''], '--error');
    refused(['--backend', 'hostA@lvm', '--after-write', '--partial-write'], '--partial-write');
    refused(['--backend', 'hostA@lvm', '--action', 'hang', '--after-write'], '--after-write');
    refused(['--backend', 'hostA@lvm', '--op', 'delete', '--partial-write'], '--partial-write');
    refused(['--backend', 'hostA@lvm', '--times', '0'], '--times');
    refused(['--backend', 'hostA@lvm', '--times', '1.5'], '--times');
    refused(['--backend', 'hostA@lvm', '--probability', '2'], '--probability');
    refused(['--backend', 'hostA@lvm', '--action', 'delay'], '--delay-ms');
  });
  it("takes any exception name, Cinder's or not, and where the error is raised", () => {
    // Both no-reschedule types of the design notes' Cinder release, which the list once lacked.
    assert.equal(
      parseFaultRule(['--backend', 'hostA@lvm', '--error', 'MetadataCreateFailure'], hosts).error_type,
      'MetadataCreateFailure',
    );
    assert.equal(
      parseFaultRule(['--backend', 'hostA@lvm', '--error', 'ExportFailure'], hosts).error_type,
      'ExportFailure',
    );
    // A driver bug or a library's exception: not Cinder's, rescheduled (the list is a denylist).
    assert.equal(
      parseFaultRule(['--backend', 'hostA@lvm', '--error', 'ProcessExecutionError'], hosts).error_type,
      'ProcessExecutionError',
    );
    assert.equal(parseFaultRule(['--backend', 'hostA@lvm', '--error', 'Error'], hosts).error_type, 'Error');
    assert.equal(parseFaultRule(['--backend', 'hostA@lvm', '--after-write'], hosts).stage, 'after_write');
    assert.equal(
      parseFaultRule(['--backend', 'hostA@lvm', '--op', 'copy_image', '--after-write'], hosts).stage,
      'after_write',
    );
    assert.equal(
      parseFaultRule(['--backend', 'hostA@lvm', '--op', 'delete', '--after-write'], hosts).stage,
      'after_write',
    );
    assert.equal(parseFaultRule(['--backend', 'hostA@lvm', '--partial-write'], hosts).stage, 'partial_write');
  });
});
