// The step API's TypeScript declarations (step-api.d.ts beside this file, also served at
// GET /editor/step-api.d.ts), read into a table of types and members that completion and checking
// use: `step.` offers do, sleep, sleepUntil, waitForEvent, http, secret with their signatures and
// docs; `ctx.step.` offers name and count; `step.dox(` is flagged.
//
// Why not the TypeScript language service in the page (e.g. @valtown/codemirror-ts): it needs the
// TypeScript compiler (about 3 MB of JavaScript, in a worker) for a handful of declarations. The
// declarations file is ours and written in a plain shape (interfaces of members with `/** */` docs,
// object literal types), so a small reader of that shape keeps the file the one source of truth;
// stepApi.test.ts checks the reader sees every member the file declares.
import DECLARATIONS from "./step-api.d.ts?raw";

export const STEP_API_DTS: string = DECLARATIONS;

export type Member = { name: string; kind: "method" | "property"; signature: string; doc: string; type: string };
export type TypeInfo = { name: string; members: Member[] };

/** The text between an opening bracket at `open` and its match (exclusive), and the match's index. */
function enclosed(text: string, open: number): { body: string; close: number } {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") {
      depth--;
      if (depth === 0) return { body: text.slice(open + 1, i), close: i };
    }
  }
  return { body: text.slice(open + 1), close: text.length };
}

/** Members of an interface or object-literal type body; nested literal types become named `Owner.member`. */
function members(body: string, owner: string, types: Map<string, TypeInfo>): Member[] {
  const out: Member[] = [];
  let i = 0;
  let doc = "";
  while (i < body.length) {
    const rest = body.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) { i += ws[0].length; continue; }
    if (rest.startsWith("/**")) {
      const end = body.indexOf("*/", i);
      doc = body.slice(i + 3, end).replace(/^\s*\*\s?/gm, "").trim();
      i = end + 2;
      continue;
    }
    if (rest.startsWith("//")) { i = body.indexOf("\n", i) < 0 ? body.length : body.indexOf("\n", i); continue; }
    const head = /^([A-Za-z_$][\w$]*)(\??)\s*(<[^>(]*>)?\s*([(:])/.exec(rest);
    if (!head) { i++; continue; }
    const name = head[1];
    // The member runs to the `;` at depth 0.
    let j = i + head[0].length - 1;
    let depth = 0;
    for (; j < body.length; j++) {
      const c = body[j];
      if ("{([".includes(c)) depth++;
      else if ("})]".includes(c)) depth--;
      else if (c === ";" && depth === 0) break;
    }
    const signature = body.slice(i, j).replace(/\s+/g, " ").trim();
    let type = "";
    if (head[4] === ":") {
      type = signature.slice(signature.indexOf(":") + 1).trim();
      if (type.startsWith("{")) {
        const nested = `${owner}.${name}`;
        types.set(nested, { name: nested, members: members(enclosed(type, 0).body, nested, types) });
        type = nested;
      }
    } else {
      // A method: its return type, for chains like step.http(...).
      const after = enclosed(signature, signature.indexOf("("));
      type = signature.slice(after.close + 1).replace(/^\s*:\s*/, "").trim();
    }
    if (!out.some((m) => m.name === name)) out.push({ name, kind: head[4] === "(" ? "method" : "property", signature, doc, type });
    doc = "";
    i = j + 1;
  }
  return out;
}

/** Every interface of a declarations text, by name (nested literal types as `Interface.member`). */
export function readDeclarations(dts: string): Map<string, TypeInfo> {
  const types = new Map<string, TypeInfo>();
  const re = /interface\s+([A-Za-z_$][\w$]*)(<[^>]*>)?\s*\{/g;
  for (let m = re.exec(dts); m; m = re.exec(dts)) {
    const { body } = enclosed(dts, m.index + m[0].length - 1);
    types.set(m[1], { name: m[1], members: members(body, m[1], types) });
  }
  return types;
}

/** The classes the declarations make global (error classes), with their docs. */
export function declaredClasses(dts: string): { name: string; doc: string }[] {
  const out: { name: string; doc: string }[] = [];
  const re = /(?:\/\*\*([\s\S]*?)\*\/\s*)?declare class ([A-Za-z_$][\w$]*)/g;
  for (let m = re.exec(dts); m; m = re.exec(dts)) out.push({ name: m[2], doc: (m[1] ?? "").replace(/^\s*\*\s?/gm, "").trim() });
  return out;
}

export const TYPES = readDeclarations(STEP_API_DTS);
export const CLASSES = declaredClasses(STEP_API_DTS);

/** The type a name has in a program: run's parameters and a step callback's context. */
export type Roots = Record<string, string>;
export const DEFAULT_ROOTS: Roots = { step: "WorkflowStep", event: "WorkflowEvent", ctx: "WorkflowStepContext" };

/** Roots for a code-first program: whatever it calls run's parameters and step.do's callback parameter. */
export function rootsOf(source: string): Roots {
  const roots: Roots = { ...DEFAULT_ROOTS };
  const run = /function\s+run\s*\(\s*([A-Za-z_$][\w$]*)\s*(?:,\s*([A-Za-z_$][\w$]*))?/.exec(source)
    ?? /export\s+default\s+async\s*\(\s*([A-Za-z_$][\w$]*)\s*(?:,\s*([A-Za-z_$][\w$]*))?\s*\)\s*=>/.exec(source);
  if (run) {
    roots[run[1]] = "WorkflowEvent";
    if (run[2]) roots[run[2]] = "WorkflowStep";
  }
  const cb = /async\s*\(\s*([A-Za-z_$][\w$]*)\s*\)\s*=>/g;
  for (let m = cb.exec(source); m; m = cb.exec(source)) if (!(m[1] in roots)) roots[m[1]] = "WorkflowStepContext";
  return roots;
}

/** The type of a dotted chain (`ctx.step`), or null when it leaves what the declarations say. */
export function typeOfChain(chain: string[], roots: Roots, types = TYPES): TypeInfo | null {
  let t = types.get(roots[chain[0]] ?? "");
  for (const part of chain.slice(1)) {
    const m = t?.members.find((x) => x.name === part);
    if (!m || m.kind === "method") return null;
    t = types.get(m.type.replace(/^Required<(.*)>$/, "$1").replace(/<.*$/, ""));
  }
  return t ?? null;
}
