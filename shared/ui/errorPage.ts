// When the page cannot be built at all (settings, config, storage client), say so in HTML, not JSON.
import { html } from '../html/html.js';
import { contentSecurityPolicy, styleElement } from './styles.js';

export const pageHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function renderErrorPage(message: string, refreshSeconds: number): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content="${refreshSeconds}" />
        <title>Octopus Coordinator status: unavailable</title>
        ${styleElement}
      </head>
      <body>
        <main>
          <h1>Octopus Coordinator</h1>
          <p class="notice bad">The status page could not be built: ${message}</p>
          <p class="muted">It tries again every ${refreshSeconds} s.</p>
        </main>
      </body>
    </html> `.markup;
}
