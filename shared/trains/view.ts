// A train as the API and the status page show it.
import type { Runtime } from '../runtime/runtime.js';
import { taskWebUrl } from '../runtime/spaceClients.js';
import { wentLiveAt, type Train, type TrainMember, type TrainState } from './model.js';
import { soakMinutesOf } from './soak.js';

export interface TrainView {
  id: string;
  set: string;
  environment: string;
  tenant: string | null;
  space: string;
  state: TrainState;
  verified: boolean;
  /** When it was seen to have stood its soak (storage time), null until then. */
  verifiedAt: string | null;
  soakMinutes: number;
  /** Since when it has stood unchanged, as the coordinator saw it (null while interrupted). */
  standingSince: string | null;
  /** standingSince + soakMinutes: when it is verified if it stands until then (null once verified or interrupted). */
  soakEndsAt: string | null;
  interruptedAt: string | null;
  interruption: string | null;
  capturedAt: string;
  capturedBy: string;
  /** When the last member went live (Octopus's time). */
  wentLiveAt: string | null;
  members: (TrainMember & { taskUrl: string | null })[];
}

export function trainView(runtime: Runtime, train: Train): TrainView {
  const soakMinutes = train.verifiedSoakMinutes ?? soakMinutesOf(runtime, train.set);
  return {
    id: train.id,
    set: train.set,
    environment: train.environment,
    tenant: train.tenant,
    space: train.space,
    state: train.state,
    verified: train.state === 'verified',
    verifiedAt: train.verifiedAt,
    soakMinutes,
    standingSince: train.standingSince,
    soakEndsAt:
      train.state === 'soaking' && train.standingSince
        ? new Date(Date.parse(train.standingSince) + soakMinutes * 60_000).toISOString()
        : null,
    interruptedAt: train.interruptedAt,
    interruption: train.interruption,
    capturedAt: train.capturedAt,
    capturedBy: train.capturedBy,
    wentLiveAt: wentLiveAt(train),
    members: train.members.map((m) => ({
      ...m,
      taskUrl: taskWebUrl(runtime, train.spaceId, m.taskId) ?? null,
    })),
  };
}
