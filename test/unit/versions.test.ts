import { describe, expect, it } from 'vitest';
import { compareVersions, parseVersionRange, satisfiesRange } from '../../shared/versions.js';

describe('version ordering (as Octopus sorts releases)', () => {
  it('orders numerically, part by part, not as text', () => {
    const sorted = [
      '1.10.0',
      '1.9.0',
      '1.2',
      '2.0.0-beta.2',
      '2.0.0',
      '2.0.0-beta.10',
      '1.2.0.1',
    ].sort(compareVersions);
    expect(sorted).toEqual([
      '1.2',
      '1.2.0.1',
      '1.9.0',
      '1.10.0',
      '2.0.0-beta.2',
      '2.0.0-beta.10',
      '2.0.0',
    ]);
  });

  it('treats missing parts as zero and ignores build metadata', () => {
    expect(compareVersions('1.2', '1.2.0.0')).toBe(0);
    expect(compareVersions('1.2.3+build.7', '1.2.3')).toBe(0);
    expect(compareVersions('v3.1.0', '3.1.0')).toBe(0);
  });
});

describe('version ranges', () => {
  it('reads comparators with or without spaces after the operator', () => {
    expect(parseVersionRange('>= 2.3 < 3')).toEqual([
      { op: '>=', version: '2.3' },
      { op: '<', version: '3' },
    ]);
    expect(satisfiesRange('2.18.0', '>=2.3 <3')).toBe(true);
    expect(satisfiesRange('3.0.0', '>= 2.3, < 3')).toBe(false);
    expect(satisfiesRange('2.3.0-rc.1', '>=2.3')).toBe(false);
  });

  it('reads NuGet interval notation', () => {
    expect(satisfiesRange('1.5.0', '[1.0,1.5]')).toBe(true);
    expect(satisfiesRange('1.5.0', '[1.0,1.5)')).toBe(false);
    expect(satisfiesRange('0.1.0', '(,1.0)')).toBe(true);
    expect(satisfiesRange('1.2.3', '[1.2.3]')).toBe(true);
  });

  it('refuses bounds that are not versions, saying which', () => {
    expect(() => parseVersionRange('>=latest')).toThrow(
      /">=latest" in range ">=latest" is not a comparison/,
    );
    expect(() => parseVersionRange('[abc,2.0)')).toThrow(/"abc" is not a version/);
    expect(() => parseVersionRange('   ')).toThrow(/empty/);
  });
});
