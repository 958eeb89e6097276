// Interruptions: the simulator raises none (no guided failure or manual intervention), so lists are empty.
import { paged } from '../paging.js';
import { notFound, ok, route, type Route } from '../router.js';
import { spaceOf } from './common.js';

export const interruptionRoutes: Route[] = [
  route('GET', '/api/{spaceId}/interruptions', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(
      paged(
        [],
        req,
        {
          itemType: 'Interruption',
          basePath: `/api/${spaceId}/interruptions`,
          queryNames: ['regarding', 'pendingOnly', 'ids'],
        },
        (i) => i,
      ),
    );
  }),
  route('GET', '/api/{spaceId}/interruptions/{id}', (req, sim) => {
    spaceOf(req, sim);
    throw notFound('interruption', req.params.id ?? '');
  }),
];
