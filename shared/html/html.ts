// The page's one way to turn values into HTML: every interpolated value is escaped by `escapeHtml`
// unless it is already markup built by `html` (like the `odata` tag escapes query values).

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escape text for element content and quoted attribute values (the emails use it too). */
export function escapeHtml(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text.replace(/[&<>"'`]/g, (c) => entities[c] ?? c);
}

/** Markup made by `html` (never from outside text), safe to interpolate as is. */
export class SafeHtml {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.markup;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === false || value === null || value === undefined) return '';
  return escapeHtml(value);
}

/** Tagged template: the literal parts are markup, every `${value}` is escaped (arrays are joined). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** Only http(s) links are rendered as links (never `javascript:` or `data:`). */
export function safeHref(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** A link to `url` when it is a safe one, else just the text. */
export function link(url: string | null | undefined, text: HtmlValue): SafeHtml {
  const href = safeHref(url);
  return href ? html`<a href="${href}" rel="noreferrer">${text}</a>` : html`${text}`;
}
