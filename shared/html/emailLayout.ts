// The one layout of every email the coordinator sends (watches, run notify and finished mails): a
// complete HTML document with inline styles, 600 px wide like the daily report, readable on a phone.
// Values are escaped by the `html` tag; blocks are built with the helpers below.
import { html, link, safeHref, type HtmlValue, type SafeHtml } from './html.js';

export const emailFont = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif";
const wrap = 'word-wrap:break-word;overflow-wrap:anywhere;word-break:break-word';
const tones = { good: '#2e7d32', bad: '#c62828', info: '#455a64' } as const;
export type EmailTone = keyof typeof tones;

export interface EmailLayout {
  /** The heading and the document's <title> (usually the subject). */
  title: string;
  /** The colour of the band above the heading: how it went. */
  tone: EmailTone;
  /** The blocks of the body, in order. */
  body: SafeHtml[];
  /** A prominent link (to the run or the status page), when there is one to give. */
  action?: { url: string | undefined; text: string } | undefined;
  /** Who sent this and why the reader got it. */
  footer: string;
}

export function paragraph(content: HtmlValue, tone?: EmailTone): SafeHtml {
  const color = tone ? tones[tone] : '#222';
  return html`<p
    style="margin:0 0 12px;font-size:14px;line-height:1.5;color:${color};${emailFont};${wrap}"
  >
    ${content}
  </p>`;
}

export function subheading(text: string): SafeHtml {
  return html`<h2 style="margin:18px 0 6px;font-size:15px;color:#222;${emailFont}">${text}</h2>`;
}

/** A table of rows; a cell may hold markup (a link) built with `html`. */
export function dataTable(columns: string[], rows: HtmlValue[][]): SafeHtml {
  const cell = `padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top;text-align:left;${wrap}`;
  return html`<table
    role="presentation"
    width="100%"
    cellpadding="0"
    cellspacing="0"
    style="width:100%;border-collapse:collapse;font-size:13px;margin:0 0 12px;${emailFont}"
  >
    <tr>
      ${columns.map((c) => html`<th style="${cell};background:#f4f5f7;color:#444;font-weight:600">${c}</th>`)}
    </tr>
    ${rows.map(
      (r) =>
        html`<tr>
          ${r.map((v) => html`<td style="${cell};color:#222">${v}</td>`)}
        </tr>`,
    )}
  </table>`;
}

/** A list of lines; each may hold markup. */
export function bulletList(items: HtmlValue[]): SafeHtml {
  return html`<ul
    style="margin:0 0 12px;padding-left:20px;font-size:13px;line-height:1.5;color:#222;${emailFont};${wrap}"
  >
    ${items.map((i) => html`<li style="margin:2px 0">${i}</li>`)}
  </ul>`;
}

/** A link in the email's accent style (falls back to text when the address is not http(s)). */
export function emailLink(url: string | undefined, text: HtmlValue): SafeHtml {
  const href = safeHref(url);
  return href ? html`<a href="${href}" style="color:#0b5cad">${text}</a>` : link(undefined, text);
}

function actionButton(action: EmailLayout['action']): SafeHtml | '' {
  const href = safeHref(action?.url);
  if (!action || !href) return '';
  return html`<tr>
    <td style="padding:4px 24px 16px;${emailFont}">
      <a
        href="${href}"
        style="display:inline-block;padding:9px 16px;border-radius:6px;background:#0b5cad;color:#ffffff;text-decoration:none;font-size:14px;font-weight:600"
        >${action.text}</a
      >
    </td>
  </tr>`;
}

/** The whole document, as a string ready for a mail part or an .html file. */
export function emailDocument(layout: EmailLayout): string {
  const accent = tones[layout.tone];
  return html`<!DOCTYPE html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light" />
        <title>${layout.title}</title>
      </head>
      <body style="margin:0;padding:0;background:#f4f5f7">
        <table
          role="presentation"
          width="100%"
          cellpadding="0"
          cellspacing="0"
          style="width:100%;background:#f4f5f7"
        >
          <tr>
            <td align="center" style="padding:12px 0">
              <table
                role="presentation"
                width="600"
                cellpadding="0"
                cellspacing="0"
                style="width:100%;max-width:600px;table-layout:fixed;border-collapse:collapse;background:#ffffff;border-top:4px solid ${accent}"
              >
                <tr>
                  <td style="padding:20px 24px 8px;${emailFont}">
                    <h1 style="margin:0;font-size:19px;line-height:1.3;color:${accent};${wrap}">
                      ${layout.title}
                    </h1>
                  </td>
                </tr>
                <tr>
                  <td style="padding:8px 24px 4px">${layout.body}</td>
                </tr>
                ${actionButton(layout.action)}
                <tr>
                  <td
                    style="padding:12px 24px 20px;font-size:11px;line-height:1.5;color:#777;border-top:1px solid #e3e6ea;${emailFont};${wrap}"
                  >
                    ${layout.footer}
                  </td>
                </tr>
              </table>
            </td>
          </tr>
        </table>
      </body>
    </html> `.markup;
}

/**
 * Plain text as email blocks: paragraphs split on blank lines; a paragraph of "- " lines becomes a
 * list; any other multi-line paragraph keeps its lines (a plan, a run's story).
 */
const preStyle = `margin:0 0 12px;font:12px/1.5 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;${wrap};color:#222`;

export function textBlocks(text: string): SafeHtml[] {
  return text
    .split(/\n{2,}/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      if (lines.every((l) => l.startsWith('- '))) return bulletList(lines.map((l) => l.slice(2)));
      if (lines.length > 1) return html`<pre style="${preStyle}">${block}</pre>`;
      return paragraph(block);
    });
}
