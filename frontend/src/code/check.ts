// Checks a code-first program or a code node's body against the step API's declarations, as the
// editor types: where it does not parse (acorn), a program without `export default ... run`, a
// member the declarations do not have (`step.dox`, `ctx.step.nam`), a step API call with too few
// arguments. Pure; the editor shows the result with @codemirror/lint (CodeEditor.tsx).
import { parse } from "acorn";
import { readProgram } from "./diagram";
import { DEFAULT_ROOTS, rootsOf, typeOfChain, TYPES, type Roots } from "./stepApi";

export type Diagnostic = { from: number; to: number; severity: "error" | "warning"; message: string };
type Ast = { type: string; start: number; end: number; [key: string]: any };

/** The smallest argument count of a method signature `name(a: A, b?: B)`: parameters before the first optional one. */
export function requiredArgs(signature: string): number {
  const open = signature.indexOf("(");
  let depth = 0, count = 0, current = "";
  for (let i = open + 1; i < signature.length; i++) {
    const c = signature[i];
    const arrow = c === ">" && signature[i - 1] === "=";  // `=>` closes nothing
    if ("({[<".includes(c)) depth++;
    if (")}]>".includes(c) && !arrow) {
      if (depth === 0) { if (current.trim()) count += /^\s*[\w$]+\?/.test(current) ? 0 : 1; break; }
      depth--;
    }
    if (c === "," && depth === 0) {
      if (/^\s*[\w$]+\?/.test(current)) return count;
      count++;
      current = "";
      continue;
    }
    current += c;
  }
  return count;
}

function chainOf(e: Ast): string[] | null {
  if (e.type === "Identifier") return [e.name];
  if (e.type === "MemberExpression" && !e.computed && e.property.type === "Identifier") {
    const head = chainOf(e.object);
    return head ? [...head, e.property.name] : null;
  }
  return null;
}

function walk(node: Ast, visit: (n: Ast) => void) {
  visit(node);
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (Array.isArray(v)) v.forEach((x) => { if (x && typeof x.type === "string") walk(x, visit); });
    else if (v && typeof v.type === "string" && key !== "loc") walk(v, visit);
  }
}

function members(ast: Ast, roots: Roots, shift: number): Diagnostic[] {
  const out: Diagnostic[] = [];
  walk(ast, (n) => {
    if (n.type === "MemberExpression" && !n.computed && n.property.type === "Identifier") {
      const owner = chainOf(n.object);
      const t = owner ? typeOfChain(owner, roots) : null;
      if (t && !t.members.some((m) => m.name === n.property.name)) {
        out.push({ from: n.property.start - shift, to: n.property.end - shift, severity: "error",
                   message: `${owner!.join(".")}.${n.property.name}: ${t.name} has no member ${n.property.name} (it has ${t.members.map((m) => m.name).join(", ")})` });
      }
    }
    if (n.type === "CallExpression" && n.callee.type === "MemberExpression" && !n.callee.computed) {
      const owner = chainOf(n.callee.object);
      const t = owner ? typeOfChain(owner, roots) : null;
      const m = t?.members.find((x) => x.name === n.callee.property.name && x.kind === "method");
      if (m && n.arguments.length < requiredArgs(m.signature)) {
        out.push({ from: n.start - shift, to: n.end - shift, severity: "error",
                   message: `${owner!.join(".")}.${m.name} takes at least ${requiredArgs(m.signature)} argument(s): ${m.signature}` });
      }
    }
  });
  return out.filter((d) => d.from >= 0);
}

function parseError(e: unknown, shift: number, length: number): Diagnostic {
  const err = e as { pos?: number; message?: string };
  const at = Math.max(0, Math.min(length, (err.pos ?? shift) - shift));
  return { from: at, to: Math.min(length, at + 1), severity: "error", message: String(err.message ?? e).replace(/ \(\d+:\d+\)$/, "") };
}

/** Problems of a code-first program (a module with `export default async function run(event, step)`). */
export function checkProgram(source: string): Diagnostic[] {
  let ast: Ast;
  try {
    ast = parse(source, { ecmaVersion: "latest", sourceType: "module" }) as unknown as Ast;
  } catch (e) {
    return [parseError(e, 0, source.length)];
  }
  const read = readProgram(source);
  const out = read.ok ? [] : [{ from: 0, to: Math.min(source.length, 6), severity: "error" as const, message: read.message }];
  return [...out, ...members(ast, rootsOf(source), 0)];
}

/** Problems of a code node's body (an async function body that sees event, input, steps, step). */
export function checkCode(body: string): Diagnostic[] {
  const head = "(async function (event, input, steps, step, item, index) {\n";
  const source = `${head}${body}\n})`;
  let ast: Ast;
  try {
    ast = parse(source, { ecmaVersion: "latest", sourceType: "script" }) as unknown as Ast;
  } catch (e) {
    return [parseError(e, head.length, body.length)];
  }
  return members(ast, { step: DEFAULT_ROOTS.step, event: DEFAULT_ROOTS.event }, head.length);
}

export { TYPES };
