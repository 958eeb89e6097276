// The composition root's lists: which features hear each stored Octopus event and which get the
// status poll's snapshot. The mechanisms (events/, status/) only define the interfaces and take the
// lists as arguments, so they never import the features that plug into them.
import type { EventConsumer } from '../events/consumers.js';
import { locksStatusConsumer } from '../locks/consumers.js';
import { retentionStatusConsumer } from '../retention/consumers.js';
import { retentionPhases } from './retention.js';
import { runsEventConsumer, runsStatusConsumer } from '../runs/consumers.js';
import type { StatusConsumer } from '../status/consumers.js';
import { trainsStatusConsumer } from '../trains/consumers.js';
import { watchEventConsumer, watchStatusConsumer } from '../watches/consumers.js';

/**
 * Each event goes to these in this order. Runs first: an event that ends a run ends it before the
 * watches look, so the email held while the run changed the set goes out now, not a poll later.
 */
export const eventConsumers: readonly EventConsumer[] = [runsEventConsumer, watchEventConsumer];

/**
 * Run one after another by the poll, each in its own try/catch. Watches read the snapshot taken
 * before the runs move on, so a run that ends in this poll is announced at the next one.
 */
export const statusConsumers: readonly StatusConsumer[] = [
  watchStatusConsumer,
  // After the watches, which capture trains as they announce: this pass times every train's soak.
  trainsStatusConsumer,
  runsStatusConsumer,
  locksStatusConsumer,
  retentionStatusConsumer(retentionPhases),
];
