// Deployment freezes (Octopus 2024.2+): instance-level /api/deploymentfreezes, list answered as { Count, DeploymentFreezes }.
import type { SimContext } from '../context.js';
import { SimValidationError } from '../engine.js';
import { notEnded, renderFreeze } from '../freezes.js';
import { boolParam, field, intParam, listParam, queryValue, stringField } from '../paging.js';
import { notFound, ok, route, type Route, type SimRequest } from '../router.js';
import { nextId, type DeploymentFreezeRecord } from '../store.js';
import { parseTime } from '../time.js';

const problem = (errors: string[]): SimValidationError => new SimValidationError(errors);

/** Parse and check a create/modify body the way Octopus validates it (400 with Errors naming each field). */
function parseFreeze(body: unknown, sim: SimContext, id: string): DeploymentFreezeRecord {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw problem(['The request body must be a JSON object describing the deployment freeze.']);
  const errors: string[] = [];
  const name = stringField(body, 'Name');
  if (!name) errors.push('The Name field is required.');
  else if (name.length > 200) errors.push('The Name field must be at most 200 characters.');
  const start = parseTime(field(body, 'Start'));
  const end = parseTime(field(body, 'End'));
  if (start === undefined) errors.push('The Start field is required and must be a date-time.');
  if (end === undefined) errors.push('The End field is required and must be a date-time.');
  if (start !== undefined && end !== undefined && end <= start)
    errors.push('The End of a deployment freeze must be after its Start.');
  const state = sim.state();
  const projectIds = new Set(state.projects.map((p) => p.id));
  const environmentIds = new Set(state.environments.map((e) => e.id));
  const tenantIds = new Set(state.tenants.map((t) => t.id));
  const rawScope = field(body, 'ProjectEnvironmentScope');
  const scope: Record<string, string[]> = {};
  if (rawScope !== undefined && rawScope !== null) {
    if (typeof rawScope !== 'object' || Array.isArray(rawScope))
      errors.push('ProjectEnvironmentScope must map project ids to lists of environment ids.');
    else
      for (const [projectId, envs] of Object.entries(rawScope as Record<string, unknown>)) {
        if (!projectIds.has(projectId)) errors.push(`Project ${projectId} was not found.`);
        const list = Array.isArray(envs)
          ? envs.filter((e): e is string => typeof e === 'string')
          : [];
        for (const e of list)
          if (!environmentIds.has(e)) errors.push(`Environment ${e} was not found.`);
        scope[projectId] = list;
      }
  }
  const rawTenantScope = field(body, 'TenantProjectEnvironmentScope');
  const tenantScope: DeploymentFreezeRecord['tenantProjectEnvironmentScope'] = [];
  if (Array.isArray(rawTenantScope)) {
    for (const entry of rawTenantScope) {
      const t = stringField(entry, 'TenantId');
      const p = stringField(entry, 'ProjectId');
      const e = stringField(entry, 'EnvironmentId');
      if (!t || !p || !e) {
        errors.push(
          'Each TenantProjectEnvironmentScope entry needs TenantId, ProjectId and EnvironmentId.',
        );
        continue;
      }
      if (!tenantIds.has(t)) errors.push(`Tenant ${t} was not found.`);
      if (!projectIds.has(p)) errors.push(`Project ${p} was not found.`);
      if (!environmentIds.has(e)) errors.push(`Environment ${e} was not found.`);
      tenantScope.push({ TenantId: t, ProjectId: p, EnvironmentId: e });
    }
  }
  if (Object.keys(scope).length === 0 && tenantScope.length === 0)
    errors.push('The ProjectEnvironmentScope field is required.');
  const recurring = field(body, 'RecurringSchedule');
  if (recurring !== undefined && recurring !== null) {
    const type = stringField(recurring, 'Type');
    if (!type || !['Daily', 'Weekly', 'Monthly', 'Annually'].includes(type))
      errors.push('RecurringSchedule.Type must be one of Daily, Weekly, Monthly, Annually.');
  }
  if (errors.length > 0 || !name || start === undefined || end === undefined) throw problem(errors);
  const description = field(body, 'Description');
  return {
    id,
    name,
    description: typeof description === 'string' ? description : null,
    start,
    end,
    projectEnvironmentScope: scope,
    tenantProjectEnvironmentScope: tenantScope,
    recurringSchedule:
      recurring !== null && typeof recurring === 'object' && !Array.isArray(recurring)
        ? (recurring as Record<string, unknown>)
        : null,
    ownerId: stringField(body, 'OwnerId') ?? null,
  };
}

function filterFreezes(request: SimRequest, sim: SimContext): DeploymentFreezeRecord[] {
  const ids = listParam(request, 'ids');
  const projects = listParam(request, 'projectIds');
  const environments = listParam(request, 'environmentIds');
  const tenants = listParam(request, 'tenantIds');
  const partial = queryValue(request, 'partialName')?.toLowerCase();
  const includeComplete = boolParam(request, 'includeComplete') ?? true;
  const now = sim.clock.now();
  return sim.state().deploymentFreezes.filter((f) => {
    const scopedProjects = [
      ...Object.keys(f.projectEnvironmentScope),
      ...f.tenantProjectEnvironmentScope.map((s) => s.ProjectId),
    ];
    const scopedEnvironments = [
      ...Object.values(f.projectEnvironmentScope).flat(),
      ...f.tenantProjectEnvironmentScope.map((s) => s.EnvironmentId),
    ];
    return (
      (!ids || ids.includes(f.id)) &&
      (!partial || f.name.toLowerCase().includes(partial)) &&
      (!projects || projects.some((p) => scopedProjects.includes(p))) &&
      (!environments || environments.some((e) => scopedEnvironments.includes(e))) &&
      (!tenants || f.tenantProjectEnvironmentScope.some((s) => tenants.includes(s.TenantId))) &&
      (includeComplete || notEnded(f, now))
    );
  });
}

export const deploymentFreezeRoutes: Route[] = [
  route('GET', '/api/deploymentfreezes', (req, sim) => {
    const skip = intParam(req, 'skip') ?? 0;
    const take = intParam(req, 'take') ?? 30;
    const all = filterFreezes(req, sim);
    return ok({
      Count: all.length,
      DeploymentFreezes: all.slice(skip, skip + take).map(renderFreeze),
    });
  }),
  route('GET', '/api/deploymentfreezes/{id}', (req, sim) => {
    const found = sim.state().deploymentFreezes.find((f) => f.id === req.params.id);
    if (!found) throw notFound('deployment freeze', req.params.id ?? '');
    return ok(renderFreeze(found));
  }),
  route('POST', '/api/deploymentfreezes', (req, sim) => {
    const state = sim.state();
    const freeze = parseFreeze(req.body, sim, '');
    freeze.id = nextId(state, 'DeploymentFreezes');
    state.deploymentFreezes.push(freeze);
    return ok(renderFreeze(freeze), 201);
  }),
  route('PUT', '/api/deploymentfreezes/{id}', (req, sim) => {
    const state = sim.state();
    const index = state.deploymentFreezes.findIndex((f) => f.id === req.params.id);
    if (index < 0) throw notFound('deployment freeze', req.params.id ?? '');
    const freeze = parseFreeze(req.body, sim, req.params.id ?? '');
    state.deploymentFreezes[index] = freeze;
    return ok(renderFreeze(freeze));
  }),
  route('DELETE', '/api/deploymentfreezes/{id}', (req, sim) => {
    const state = sim.state();
    const index = state.deploymentFreezes.findIndex((f) => f.id === req.params.id);
    if (index < 0) throw notFound('deployment freeze', req.params.id ?? '');
    state.deploymentFreezes.splice(index, 1);
    return { status: 200 };
  }),
];
