// What route handlers get: the engine (and through it the state), the clock and the webhook dispatcher.
import type { SimClock } from './clock.js';
import type { SimEngine } from './engine.js';
import type { Actor } from './eventLog.js';
import type { SimState } from './store.js';
import type { WebhookDispatcher } from './webhooks.js';

export interface SimContext {
  engine: SimEngine;
  clock: SimClock;
  webhooks: WebhookDispatcher;
  /** The user the API key belongs to. */
  apiUser: Actor;
  /** Shift of growing ids (see SimState.idOffset); 0 gives the fixed ids tests may name. */
  idOffset: number;
  state(): SimState;
}
