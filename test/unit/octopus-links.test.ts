import { describe, expect, it } from 'vitest';
import {
  expandLink,
  linkToUrl,
  stripLink,
  taskPageUrl,
  taskPageUrls,
} from '../../shared/octopus/links.js';

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

describe('taskPageUrls', () => {
  it('gives the text taskPageUrl gives, for any base, space, task id and web link', () => {
    const bases = [
      'https://o.example.com',
      'https://o.example.com/',
      'https://o.example.com/octopus',
      'https://o.example.com/octopus/',
      'https://o.example.com/app',
      'https://o.example.com/api',
      'http://127.0.0.1:8065/a/b/',
    ];
    const spaces = ['Spaces-1', 'Spaces-42'];
    const tasks = ['ServerTasks-9', 'ServerTasks-9621828400', 'task one', 'a/b', ''];
    for (const base of bases)
      for (const space of spaces) {
        const many = taskPageUrls(base, space);
        for (const task of tasks) {
          const links = [
            undefined,
            '',
            `/app#/${space}/tasks/${task}`,
            `/octopus/app#/${space}/tasks/${task}`,
            `/app#/${space}/tasks/${task}x`,
            `/app#/Spaces-7/tasks/${task}`,
            `https://elsewhere.example.com/app#/${space}/tasks/${task}`,
          ];
          for (const link of links)
            expect([base, space, task, link, many(task, link)]).toEqual([
              base,
              space,
              task,
              link,
              taskPageUrl(base, space, task, link),
            ]);
        }
      }
  });
});
