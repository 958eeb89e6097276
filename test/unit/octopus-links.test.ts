import { describe, expect, it } from 'vitest';
import { expandLink, linkToUrl, stripLink } from '../../shared/octopus/links.js';

describe('Links templates', () => {
  it('expands path and query expressions, leaving out missing values', () => {
    const t = '/api/Spaces-1/deployments{/id}{?skip,take,ids,projects}';
    expect(expandLink(t, { id: 'Deployments-1' })).toBe('/api/Spaces-1/deployments/Deployments-1');
    expect(expandLink(t, { skip: 30, take: 30, projects: ['Projects-1', 'Projects-2'] })).toBe(
      '/api/Spaces-1/deployments?skip=30&take=30&projects=Projects-1,Projects-2',
    );
    expect(expandLink(t, { ids: [] })).toBe('/api/Spaces-1/deployments');
  });

  it('encodes values and supports simple and continuation expressions', () => {
    expect(expandLink('/api/p/{version}/x?a=1{&tail}', { version: '1.0.0+meta', tail: 5 })).toBe(
      '/api/p/1.0.0%2Bmeta/x?a=1&tail=5',
    );
  });

  it('strips every expression', () => {
    expect(stripLink('/api/tasks/ServerTasks-9/details{?verbose,tail}')).toBe(
      '/api/tasks/ServerTasks-9/details',
    );
  });

  it('joins links to the server origin, since they already carry any virtual directory', () => {
    expect(linkToUrl('https://o.example.com/octopus', '/octopus/api/tasks/ServerTasks-9')).toBe(
      'https://o.example.com/octopus/api/tasks/ServerTasks-9',
    );
  });
});
