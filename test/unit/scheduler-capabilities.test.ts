import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FILTERS, matchExtraSpec, type BackendState, type FilterProperties } from '../../src/scheduler/index';
import { thickPool } from './pool-fixture';

type Case = [value: unknown, requirement: string | null, expected: boolean];

function check(cases: readonly Case[]): void {
  for (const [value, requirement, expected] of cases) {
    assert.equal(
      matchExtraSpec(value, requirement),
      expected,
      `matchExtraSpec(${JSON.stringify(value)}, ${JSON.stringify(requirement)})`,
    );
  }
}

describe('matchExtraSpec', () => {
  it('matches a null requirement only with a null (or undefined) value', () => {
    check([
      [null, null, true],
      [undefined, null, true],
      ['', null, false],
      ['None', null, false],
      [false, null, false],
    ]);
  });

  it('never matches a null value under an operator or against a plain requirement', () => {
    check([
      [null, 'None', false],
      [null, '<is> False', false],
      [null, 's!= x', false],
      [null, '!= 5', false],
      [undefined, '<or> a <or> b', false],
    ]);
  });

  it('"=" is numeric at-least', () => {
    check([
      ['10', '= 5', true],
      [5, '= 5', true],
      [4.9, '= 5', false],
      ['abc', '= 5', false],
      [10, '= abc', false],
      [10, '=', false],
    ]);
  });

  it('"==", "!=", ">=", "<=" compare numbers', () => {
    check([
      [5, '== 5.0', true],
      ['5', '== 5', true],
      [6, '== 5', false],
      [6, '!= 5', true],
      [5, '!= 5', false],
      ['x', '!= 5', false],
      [10, '>= 10', true],
      [9.99, '>= 10', false],
      [10, '<= 10', true],
      [10.01, '<= 10', false],
      [10, '>=', false],
    ]);
  });

  it('reads numbers as Python float() does', () => {
    check([
      [' 1e3 ', '>= 1000', true],
      ['1_000', '== 1000', true],
      ['1__000', '== 1000', false],
      ['.5', '== 0.5', true],
      ['inf', '>= 1e308', true],
      ['-Infinity', '<= -1e308', true],
      [true, '== 1', true], // float(True) == 1.0
      [false, '== 0', true],
      ['0x10', '== 16', false],
      ['', '>= 0', false],
      [[1], '>= 0', false],
      [{}, '>= 0', false],
      ['nan', '== nan', false],
      ['nan', '!= nan', true],
    ]);
  });

  it('s-operators compare text, by code point', () => {
    check([
      ['abc', 's== abc', true],
      ['abd', 's== abc', false],
      ['abc', 's!= abd', true],
      ['abc', 's!= abc', false],
      ['abc', 's< abd', true],
      ['b', 's< a', false],
      ['abc', 's<= abc', true],
      ['b', 's> a', true],
      ['a', 's> a', false],
      ['a', 's>= a', true],
      ['ab', 's< abc', true],
      ['abc', 's< ab', false],
      // U+FF61 sorts before U+1F600 by code point; JS's UTF-16 `<` says otherwise.
      ['\uFF61', 's< \u{1F600}', true],
      ['abc', 's==', false],
    ]);
  });

  it('s-operators do not coerce: a number is not its text', () => {
    check([
      [5, 's== 5', false],
      [5, 's!= 5', true],
      [5, 's< 6', false],
      [true, 's>= True', false],
    ]);
  });

  it('uses only the first operand word, as Cinder does', () => {
    check([
      ['abc', 's== abc def', true],
      [7, '>= 5 and more', true],
    ]);
  });

  it('"<in>" finds a substring, a list element or an object key', () => {
    check([
      ['SSD,NVMe', '<in> NVMe', true],
      ['SSD,NVMe', '<in> nvme', false],
      [['a', 'b'], '<in> b', true],
      [['a', 'b'], '<in> c', false],
      [{ gold: 1 }, '<in> gold', true],
      [{ gold: 1 }, '<in> toString', false],
      [5, '<in> 5', false],
      ['abc', '<in>', false],
    ]);
  });

  it('"<is>" reads both sides as booleans', () => {
    check([
      [true, '<is> True', true],
      [true, '<is> true', true],
      [false, '<is> False', true],
      [false, '<is> True', false],
      ['yes', '<is> true', true],
      ['ON', '<is> 1', true],
      [' t ', '<is> Y', true],
      ['no', '<is> True', false],
      ['garbage', '<is> False', true], // anything not true-ish reads as false
      [1, '<is> t', true],
      [0, '<is> True', false],
      [true, '<is>', false],
    ]);
  });

  it('"<or>" matches any alternative', () => {
    check([
      ['b', '<or> a <or> b', true],
      ['a', '<or> a <or> b <or> c', true],
      ['c', '<or> a <or> b', false],
      ['a', '<or> a', true],
      ['a', '<or>', false],
      // Cinder walks alternative, keyword, alternative…: 'b' here sits in a keyword position.
      ['b', '<or> a b', false],
      // No coercion: the number 1 is not the word '1'.
      [1, '<or> 1 <or> 2', false],
    ]);
  });

  it('otherwise wants the value to equal the whole requirement, without coercion', () => {
    check([
      ['iSCSI', 'iSCSI', true],
      ['iscsi', 'iSCSI', false],
      ['a b', 'a b', true],
      ['a  b', 'a b', false],
      ['', '', true],
      ['x', '', false],
      [true, 'True', false],
      [true, 'true', false],
      [5, '5', false],
      ['constructor x', 'constructor x', true],
      ['toString', 'toString', true],
    ]);
  });

  it('does not choke on a requirement that is not text (untyped data)', () => {
    assert.equal(matchExtraSpec(5, 5 as unknown as string), true);
    assert.equal(matchExtraSpec('5', 5 as unknown as string), false);
  });
});

const pool = (capabilities: Record<string, unknown>): BackendState => thickPool({ capabilities });

const withSpecs = (extra_specs: Record<string, string>): FilterProperties => ({
  size: 1,
  volume_type: { name: 'gold', extra_specs },
});

const capabilities = {
  volume_backend_name: 'lvm-1',
  storage_protocol: 'iSCSI',
  vendor_name: 'Open Source',
  compression: true,
  total_volumes: 12,
  disk_types: ['hdd', 'ssd'],
  none_here: [],
  replication: { enabled: true, targets: 2, mode: 'async' },
  broken: null,
};

function passes(specs: Record<string, string>, caps: Record<string, unknown> = capabilities): boolean {
  const backend = pool(caps);
  const props = withSpecs(specs);
  const before = [structuredClone(backend), structuredClone(props)];
  const result = FILTERS.CapabilitiesFilter(backend, props);
  assert.deepEqual([backend, props], before);
  return result;
}

describe('CapabilitiesFilter', () => {
  it('passes with no volume type, no extra specs, or empty extra specs', () => {
    assert.equal(FILTERS.CapabilitiesFilter(pool({}), { size: 1 }), true);
    assert.equal(FILTERS.CapabilitiesFilter(pool({}), { size: 1, volume_type: { name: 'x' } }), true);
    assert.equal(passes({}, {}), true);
  });

  it('ignores keys scoped to anything but capabilities', () => {
    assert.equal(passes({ 'provisioning:type': 'thin', 'vendor:x': 'y', 'qos:iops': '>= 9000' }, {}), true);
    // 'replication:enabled' is scoped 'replication', so it is not ours either.
    assert.equal(passes({ 'replication:enabled': '<is> False' }), true);
  });

  it('matches plain and capabilities-scoped keys against the pool', () => {
    assert.equal(passes({ storage_protocol: 'iSCSI' }), true);
    assert.equal(passes({ 'capabilities:storage_protocol': 'iSCSI' }), true);
    assert.equal(passes({ 'capabilities:storage_protocol': 'FC' }), false);
    assert.equal(passes({ 'capabilities:compression': '<is> True', total_volumes: '<= 20' }), true);
  });

  it('needs every spec to match', () => {
    assert.equal(passes({ storage_protocol: 'iSCSI', volume_backend_name: 'lvm-2' }), false);
  });

  it('walks nested capabilities', () => {
    assert.equal(passes({ 'capabilities:replication:enabled': '<is> True' }), true);
    assert.equal(passes({ 'capabilities:replication:targets': '>= 2' }), true);
    assert.equal(passes({ 'capabilities:replication:targets': '>= 3' }), false);
    assert.equal(passes({ 'capabilities:replication:mode': '<or> sync <or> async' }), true);
  });

  it('fails a missing capability, or a path through a value that is not an object', () => {
    assert.equal(passes({ 'capabilities:multiattach': '<is> False' }), false);
    assert.equal(passes({ 'capabilities:replication:missing': 'x' }), false);
    assert.equal(passes({ 'capabilities:storage_protocol:deeper': 'x' }), false);
    assert.equal(passes({ 'capabilities:disk_types:0': 'hdd' }), false);
    assert.equal(passes({ 'capabilities:broken:deeper': 'x' }), false);
  });

  it('never finds object prototype keys', () => {
    assert.equal(passes({ 'capabilities:constructor': '<in> name' }), false);
    assert.equal(passes({ 'capabilities:__proto__': '<in> x' }), false);
    assert.equal(passes({ 'capabilities:replication:hasOwnProperty': '<is> False' }), false);
  });

  it('passes a list-valued capability when any element matches', () => {
    assert.equal(passes({ 'capabilities:disk_types': 'ssd' }), true);
    assert.equal(passes({ 'capabilities:disk_types': 'nvme' }), false);
    assert.equal(passes({ 'capabilities:disk_types': '<in> ss' }), true);
    assert.equal(passes({ 'capabilities:none_here': '<is> False' }), false, 'an empty list matches nothing');
  });

  it('compares a null capability like Cinder: only a null requirement would match', () => {
    assert.equal(passes({ 'capabilities:broken': 'None' }), false);
  });
});
