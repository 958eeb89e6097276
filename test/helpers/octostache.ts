// Octopus variable substitution as Octostache does it, for the step-template tests. Only what the
// templates use, but never kinder than Octopus: checked against OctopusDeploy/Octostache
// (TemplateEvaluator, TemplateParser):
// - `#{Name}` of an unknown variable is written back literally (`#{Octopus.Deployment.Tenant.Name}`);
// - a filter/function expression (`#{Name | Filter}`) is left literal here (unknown to this stand-in);
// - `#{if Name}…#{else}…#{/if}` and `#{unless Name}…#{/unless}`: an unknown variable is false; a value is
//   false when it is "", "0", "no" or "false" (trimmed, case-insensitive);
// - `##{` is an escaped `#{`; variable names are case-insensitive; values that hold `#{…}` are
//   evaluated in turn (to a depth limit, like Octostache's recursion guard).

export type Variables = Record<string, string>;

interface Lookup {
  get(name: string): string | undefined;
}

function lookup(vars: Variables): Lookup {
  const byName = new Map<string, string>();
  for (const [k, v] of Object.entries(vars)) byName.set(k.toLowerCase(), v);
  return { get: (name) => byName.get(name.trim().toLowerCase()) };
}

export function isTruthy(value: string): boolean {
  const t = value.trim().toLowerCase();
  return value !== '' && value !== '0' && t !== 'no' && t !== 'false';
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'sub'; raw: string; expr: string }
  | { kind: 'cond'; negate: boolean; name: string; yes: Node[]; no: Node[] };

/** Splits `text` into tokens at `#{…}` (respecting `##{` escapes and nested brackets in indexers). */
function tokens(text: string): ({ text: string } | { raw: string; inner: string })[] {
  const out: ({ text: string } | { raw: string; inner: string })[] = [];
  let buf = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('##{', i)) {
      buf += '#{';
      i += 3;
      continue;
    }
    if (text.startsWith('#{', i)) {
      let depth = 0;
      let j = i + 2;
      for (; j < text.length; j++) {
        const c = text[j];
        if (c === '[') depth++;
        else if (c === ']') depth--;
        else if (c === '}' && depth <= 0) break;
      }
      if (j >= text.length) {
        buf += text.slice(i);
        break;
      }
      if (buf) out.push({ text: buf });
      buf = '';
      out.push({ raw: text.slice(i, j + 1), inner: text.slice(i + 2, j) });
      i = j + 1;
      continue;
    }
    buf += text[i];
    i++;
  }
  if (buf) out.push({ text: buf });
  return out;
}

function parse(text: string): Node[] {
  const toks = tokens(text);
  let pos = 0;
  const block = (until: string[]): { nodes: Node[]; end?: string } => {
    const nodes: Node[] = [];
    while (pos < toks.length) {
      const t = toks[pos++];
      if (!t) break;
      if ('text' in t) {
        nodes.push({ kind: 'text', text: t.text });
        continue;
      }
      const inner = t.inner.trim();
      const word = inner.split(/\s+/)[0] ?? '';
      if (until.includes(word)) return { nodes, end: word };
      if (word === 'if' || word === 'unless') {
        const name = inner.slice(word.length).trim();
        const yes = block(['else', '/if', '/unless']);
        const no = yes.end === 'else' ? block(['/if', '/unless']).nodes : [];
        nodes.push({ kind: 'cond', negate: word === 'unless', name, yes: yes.nodes, no });
        continue;
      }
      nodes.push({ kind: 'sub', raw: t.raw, expr: inner });
    }
    return { nodes };
  };
  return block([]).nodes;
}

function evaluate(nodes: Node[], vars: Lookup, depth: number): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'sub') {
      const value = n.expr.includes('|') ? undefined : resolve(n.expr, vars, depth);
      out += value ?? n.raw;
    } else {
      const value = resolve(n.name, vars, depth) ?? '';
      const truthy = isTruthy(value) !== n.negate;
      out += evaluate(truthy ? n.yes : n.no, vars, depth);
    }
  }
  return out;
}

function resolve(name: string, vars: Lookup, depth: number): string | undefined {
  const value = vars.get(name);
  if (value === undefined) return undefined;
  if (depth > 15 || !value.includes('#{')) return value;
  return evaluate(parse(value), vars, depth + 1);
}

/** Evaluates `template` against `variables` as Octopus would before handing it to a script. */
export function substitute(template: string, variables: Variables): string {
  return evaluate(parse(template), lookup(variables), 0);
}

/** Every variable's value as a script reading it would see it (each value evaluated). */
export function evaluateAll(variables: Variables): Variables {
  const vars = lookup(variables);
  const out: Variables = {};
  for (const [k, v] of Object.entries(variables)) out[k] = evaluate(parse(v), vars, 1);
  return out;
}
