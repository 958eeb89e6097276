// The page's only CSS, embedded in a <style> element that the Content-Security-Policy allows by hash.
import { createHash } from 'node:crypto';
import { SafeHtml } from '../html/html.js';

export const pageCss = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#5b6470;--bg:#fff;--panel:#f5f7f9;--line:#d8dee4;
--good:#1a7f37;--good-bg:#dafbe1;--bad:#b42318;--bad-bg:#ffe4e1;--busy:#8a5a00;--busy-bg:#fff4cc;--idle-bg:#eef1f4}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9aa5b1;--bg:#0d1117;--panel:#161b22;--line:#30363d;
--good:#56d364;--good-bg:#12361d;--bad:#ff7b72;--bad-bg:#3d1512;--busy:#e3b341;--busy-bg:#3a2c05;--idle-bg:#21262d}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main{max-width:1200px;margin:0 auto;padding:12px 16px}
header{border-bottom:1px solid var(--line)}
h1{font-size:1.3rem;margin:0 0 4px}
h2{font-size:1.15rem;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:18px 0 6px}
p{margin:6px 0}
.muted,small{color:var(--muted)}
nav a{margin-right:12px}
a{color:inherit}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;font-size:.92rem}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
thead th{background:var(--panel)}
tbody th{font-weight:600;white-space:nowrap}
td{overflow-wrap:anywhere;min-width:7em}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:.8rem;font-weight:600;white-space:nowrap;background:var(--idle-bg)}
.good{color:var(--good);background:var(--good-bg)}
.bad{color:var(--bad);background:var(--bad-bg)}
.busy{color:var(--busy);background:var(--busy-bg)}
td.good,td.bad,td.busy{background:none;color:inherit;border-left:4px solid}
td.good{border-left-color:var(--good)}td.bad{border-left-color:var(--bad)}td.busy{border-left-color:var(--busy)}
.version{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88rem}
.notice{padding:8px 12px;border-radius:6px;background:var(--busy-bg);margin:8px 0}
.notice.bad{background:var(--bad-bg);color:inherit}
.empty{color:var(--muted);font-style:italic}
.run{border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:10px 0;background:var(--panel)}
.run>summary{cursor:pointer;font-weight:600}
ol.stages{padding-left:22px;margin:8px 0}
ol.stages>li{margin:6px 0}
ul.actions{padding-left:18px;margin:4px 0}
ul.actions li{margin:2px 0}
ol.waiters{padding-left:22px;margin:0}
td>.label{display:none}
.warn{color:var(--busy);background:var(--busy-bg);outline:1px solid var(--busy)}
.run>summary .facts{font-weight:400;color:var(--muted);font-size:.88rem}
.run>summary .facts>span{margin-left:10px;white-space:nowrap}
.run>summary .outcome{display:block;font-weight:400;font-size:.9rem;margin:2px 0 0 4px;overflow-wrap:anywhere}
main.approval{max-width:860px}main.approval p,main.approval li{overflow-wrap:anywhere}
form.decide{margin:16px 0;padding:12px;border:1px solid var(--line);border-radius:8px;background:var(--panel)}
form.decide label{display:block;margin-bottom:4px}
form.decide textarea{width:100%;font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:6px}
form.decide button{font:inherit;font-weight:600;padding:8px 18px;margin:4px 8px 0 0;border-radius:6px;border:1px solid var(--line);cursor:pointer}
form.decide .approve{background:var(--good-bg);color:var(--good)}form.decide .reject{background:var(--bad-bg);color:var(--bad)}
@media (max-width:600px){body{font-size:14px}header,main{padding:10px}th,td{padding:4px 6px}
nav a{display:inline-block;margin:2px 10px 2px 0}
.run>summary .facts{display:block}.run>summary .facts>span{margin:0 10px 0 0}
table.stack,table.stack tbody,table.stack tr,table.stack th,table.stack td{display:block;width:100%;min-width:0}
table.stack thead{display:none}
table.stack tr{border:1px solid var(--line);border-radius:8px;margin:0 0 10px;padding:4px 0;background:var(--panel)}
table.stack th,table.stack td{border:0;padding:3px 10px}
table.stack td>.label{display:block;font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}}
`.trim();

/** The <style> element, made here so that formatting a page template can never change its content (and hash). */
export const styleElement = new SafeHtml(`<style>${pageCss}</style>`);

/** For the Content-Security-Policy: exactly this stylesheet may apply, nothing else inline. */
export const pageCssHash = `sha256-${createHash('sha256').update(pageCss).digest('base64')}`;

/** No scripts, no plugins, no framing, no forms; only the embedded stylesheet. */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'none'",
  `style-src '${pageCssHash}'`,
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
