// Interruptions (manual interventions and guided failure): list, get, take responsibility, submit.
// Shapes follow Octopus's API reference and real payloads (Form with Instructions/Notes and a
// Result or Guidance SubmitButtonGroup; Links Self, Submit, Responsible).
import type { SimContext } from '../context.js';
import type { InterruptionAnswer } from '../engine.js';
import { boolParam, field, listParam, paged, queryValue, stringField } from '../paging.js';
import { notFound, ok, route, SimHttpError, type Route, type SimRequest } from '../router.js';
import { idNumber, type InterruptionRecord } from '../store.js';
import { isoTime } from '../time.js';
import { findById, spaceOf } from './common.js';

const manualButtons = [
  { Text: 'Proceed', Value: 'Proceed', RequiresConfirmation: false },
  { Text: 'Abort', Value: 'Abort', RequiresConfirmation: true },
];
const guidanceButtons = ['Fail', 'Retry', 'Ignore', 'Exclude'].map((v) => ({
  Text: v === 'Exclude' ? 'Exclude machine' : v,
  Value: v,
  RequiresConfirmation: false,
}));

export function renderInterruption(
  i: InterruptionRecord,
  sim: SimContext,
): Record<string, unknown> {
  const spaceId = sim.state().space.id;
  const self = `/api/${spaceId}/interruptions/${i.id}`;
  const answerName = i.type === 'ManualIntervention' ? 'Result' : 'Guidance';
  return {
    Id: i.id,
    SpaceId: spaceId,
    Title: i.title,
    Type: i.type,
    Created: isoTime(i.created),
    IsPending: i.isPending,
    Form: {
      Values: i.values,
      Elements: [
        {
          Name: 'Instructions',
          Control: { Type: 'Paragraph', Text: i.instructions, ResolveLinks: false },
          IsValueRequired: false,
        },
        { Name: 'Notes', Control: { Type: 'TextArea', Label: 'Notes' }, IsValueRequired: false },
        {
          Name: answerName,
          Control: {
            Type: 'SubmitButtonGroup',
            Buttons: i.type === 'ManualIntervention' ? manualButtons : guidanceButtons,
          },
          IsValueRequired: i.type === 'GuidedFailure',
        },
      ],
    },
    RelatedDocumentIds: i.relatedDocumentIds,
    ResponsibleTeamIds: [],
    ResponsibleUserId: i.responsibleUserId,
    CanTakeResponsibility: i.isPending,
    HasResponsibility: i.responsibleUserId === sim.apiUser.userId,
    TaskId: i.taskId,
    CorrelationId: i.correlationId,
    IsLinkedToOtherInterruption: false,
    PullRequests: [],
    LastModifiedOn: isoTime(i.lastModified),
    LastModifiedBy: i.lastModifiedBy,
    Links: { Self: self, Submit: `${self}/submit`, Responsible: `${self}/responsible` },
  };
}

function renderUser(sim: SimContext): Record<string, unknown> {
  return {
    Id: sim.apiUser.userId,
    Username: sim.apiUser.username,
    DisplayName: sim.apiUser.username,
    EmailAddress: null,
    IsActive: true,
    IsService: false,
    IsRequestor: true,
    Identities: [],
    Links: { Self: `/api/users/${sim.apiUser.userId}` },
  };
}

function list(req: SimRequest, sim: SimContext) {
  const spaceId = spaceOf(req, sim);
  const regarding = queryValue(req, 'regarding');
  const pendingOnly = boolParam(req, 'pendingOnly') === true;
  const ids = listParam(req, 'ids');
  const items = sim
    .state()
    .interruptions.filter(
      (i) =>
        (!regarding || i.relatedDocumentIds.includes(regarding)) &&
        (!pendingOnly || i.isPending) &&
        (!ids || ids.includes(i.id)),
    )
    .sort((a, b) => b.created - a.created || idNumber(b.id) - idNumber(a.id));
  return ok(
    paged(
      items,
      req,
      {
        itemType: 'Interruption',
        basePath: `/api/${spaceId}/interruptions`,
        queryNames: ['regarding', 'pendingOnly', 'ids'],
      },
      (i) => renderInterruption(i, sim),
    ),
  );
}

function byId(req: SimRequest, sim: SimContext): InterruptionRecord {
  spaceOf(req, sim);
  return findById(sim.state().interruptions, req.params.id, 'interruption');
}

function parseAnswer(i: InterruptionRecord, body: unknown): InterruptionAnswer {
  const problems: string[] = [];
  const id = stringField(body, 'Id');
  if (!id) problems.push('Id is required.');
  else if (id !== i.id) problems.push(`Id ${id} does not match the interruption ${i.id}.`);
  if (!stringField(body, 'SpaceId')) problems.push('SpaceId is required.');
  const result = stringField(body, 'Result');
  const guidance = stringField(body, 'Guidance');
  let answer: InterruptionAnswer | undefined;
  if (i.type === 'ManualIntervention') {
    if (result === 'Proceed' || result === 'Abort') answer = { result };
    else
      problems.push(
        `A manual intervention is answered with Result "Proceed" or "Abort"${result ? `, not "${result}"` : ''}.`,
      );
  } else if (
    guidance === 'Fail' ||
    guidance === 'Retry' ||
    guidance === 'Ignore' ||
    guidance === 'Exclude'
  )
    answer = { guidance };
  else
    problems.push(
      `Failure guidance is one of "Fail", "Retry", "Ignore" or "Exclude"${guidance ? `, not "${guidance}"` : ''}.`,
    );
  if (problems.length > 0 || !answer)
    throw new SimHttpError(400, 'There was a problem with your request.', problems);
  return answer;
}

export const interruptionRoutes: Route[] = [
  route('GET', '/api/{spaceId}/interruptions', list),
  route('GET', '/api/interruptions', list),
  route('GET', '/api/{spaceId}/interruptions/{id}', (req, sim) =>
    ok(renderInterruption(byId(req, sim), sim)),
  ),
  route('GET', '/api/{spaceId}/interruptions/{id}/responsible', (req, sim) => {
    const i = byId(req, sim);
    return ok(i.responsibleUserId ? renderUser(sim) : null);
  }),
  route('PUT', '/api/{spaceId}/interruptions/{id}/responsible', (req, sim) => {
    const i = byId(req, sim);
    if (!i.isPending)
      throw new SimHttpError(400, 'This interruption has already been submitted.', [
        `Interruption ${i.id} is no longer pending.`,
      ]);
    sim.engine.takeResponsibility(i.id, sim.apiUser);
    return ok(renderUser(sim));
  }),
  route('POST', '/api/{spaceId}/interruptions/{id}/submit', (req, sim) => {
    const i = byId(req, sim);
    if (!i.isPending)
      throw new SimHttpError(400, 'This interruption has already been submitted.', [
        `Interruption ${i.id} is no longer pending.`,
      ]);
    // Octopus: only the user with responsibility can submit the form.
    if (i.responsibleUserId !== sim.apiUser.userId)
      throw new SimHttpError(
        400,
        'You must take responsibility for this interruption before you can submit it.',
        [`PUT /api/${sim.state().space.id}/interruptions/${i.id}/responsible first.`],
      );
    const answer = parseAnswer(i, req.body);
    const notes = field(req.body, 'Notes');
    sim.engine.submitInterruption(
      i,
      answer,
      typeof notes === 'string' && notes !== '' ? notes : null,
      sim.apiUser,
    );
    return ok(renderInterruption(i, sim));
  }),
  route('GET', '/api/interruptions/{id}', (req, sim) => {
    const i = sim.state().interruptions.find((x) => x.id === req.params.id);
    if (!i) throw notFound('interruption', req.params.id ?? '');
    return ok(renderInterruption(i, sim));
  }),
];
