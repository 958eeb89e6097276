// Order a set's projects into stages by their dependencies: each stage needs only earlier ones.
import { findDependencyCycle } from '../config/coordination/schema.js';

export class DependencyCycleError extends Error {
  constructor(readonly cycle: string[]) {
    super(
      `The projects depend on each other in a cycle (${cycle.join(' -> ')}), so no order can deploy them. ` +
        'Remove one of these dependencies from the set\'s "dependsOn".',
    );
    this.name = 'DependencyCycleError';
  }
}

/**
 * Stages in dependency order; projects keep the set's order inside a stage. Dependencies on
 * projects outside `projects` are ignored (they are not part of this promotion).
 */
export function dependencyStages(
  projects: readonly string[],
  dependsOn: Readonly<Record<string, readonly string[]>>,
): string[][] {
  const members = new Set(projects);
  const needs: Record<string, string[]> = {};
  for (const p of projects) needs[p] = (dependsOn[p] ?? []).filter((d) => members.has(d));
  const cycle = findDependencyCycle(needs);
  if (cycle) throw new DependencyCycleError(cycle);
  const stageOf = new Map<string, number>();
  const depth = (p: string): number => {
    const known = stageOf.get(p);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...(needs[p] ?? []).map(depth)) + 1;
    stageOf.set(p, d);
    return d;
  };
  const stages: string[][] = [];
  for (const p of projects) (stages[depth(p)] ??= []).push(p);
  return stages.filter((s) => s.length > 0);
}
