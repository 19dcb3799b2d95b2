// Completions for code nodes and `{{ }}` expressions: the names a program sees (builder/expressions.py:
// event, input, steps, item, index; code nodes also have step), and the ids of the nodes upstream of
// the one being edited as `steps.<id>` (a reference to any other node fails validation: bad_reference).
// Members of `step`, `event` and a step's `ctx` come from the step API's declarations (stepApi.ts), in
// code nodes and in code-first programs.
import type { Completion, CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import { CLASSES, DEFAULT_ROOTS, rootsOf, typeOfChain, type Roots } from "./stepApi";

const GLOBALS: Completion[] = [
  { label: "input", type: "variable", detail: "the upstream node's output" },
  { label: "event", type: "variable", detail: "the trigger's event (payload, timestamp)" },
  { label: "steps", type: "variable", detail: "outputs of upstream nodes by id" },
  { label: "item", type: "variable", detail: "the current item (in a loop body)" },
  { label: "index", type: "variable", detail: "the current index (in a loop body)" },
];

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `steps.<id>` for identifier ids, `steps["<id>"]` for the rest. */
export function stepRef(id: string): string {
  return IDENT.test(id) ? `steps.${id}` : `steps[${JSON.stringify(id)}]`;
}

/** Inside an expression field, completions apply only between an open `{{` and its `}}`. */
export function insideExpression(before: string): boolean {
  return before.lastIndexOf("{{") > before.lastIndexOf("}}");
}

/** Members of a typed chain before the cursor (`step.`, `ctx.step.`, `event.`), from the step API's declarations. */
export function memberAt(before: string, roots: Roots): { from: number; options: Completion[] } | null {
  const m = /([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\.([\w$]*)$/.exec(before);
  if (!m) return null;
  const t = typeOfChain(m[1].split("."), roots);
  if (!t) return null;
  return {
    from: before.length - m[2].length,
    options: t.members.map((x) => ({ label: x.name, type: x.kind, detail: x.signature.slice(x.name.length).slice(0, 90), info: x.doc || undefined })),
  };
}

/** What to offer in a code-first program: typed members, else run's parameters and the error classes. */
export function completeProgram(before: string, source: string, explicit = false): { from: number; options: Completion[] } | null {
  const roots = rootsOf(source);
  const member = memberAt(before, roots);
  if (member) return member;
  const word = /[\w$]+$/.exec(before);
  if (!word && !explicit) return null;
  if (word && before[before.length - word[0].length - 1] === ".") return null;
  const options: Completion[] = [
    ...Object.entries(roots).map(([name, type]) => ({ label: name, type: "variable", detail: type })),
    ...CLASSES.map((c) => ({ label: c.name, type: "class", info: c.doc || undefined })),
  ];
  return { from: before.length - (word?.[0].length ?? 0), options };
}

/** What to offer at the end of `before` (the text up to the cursor). Pure, for tests and the source below. */
export function completeAt(before: string, upstreamIds: string[], kind: "code" | "expression", explicit = false):
  { from: number; options: Completion[] } | null {
  if (kind === "expression" && !insideExpression(before)) return null;
  if (kind === "code") {
    const member = memberAt(before, DEFAULT_ROOTS);
    if (member) return member;
  }
  const member = /steps\.([\w$]*)$/.exec(before);
  if (member) {
    return { from: before.length - member[1].length,
             options: upstreamIds.filter((id) => IDENT.test(id)).map((id) => ({ label: id, type: "property", detail: "upstream node" })) };
  }
  const word = /[\w$]+$/.exec(before);
  if (!word && !explicit) return null;
  if (word && before[before.length - word[0].length - 1] === ".") return null;  // a member of something else
  const options = [
    ...GLOBALS,
    ...(kind === "code" ? [{ label: "step", type: "variable", detail: "step.http, step.secret" },
                           ...CLASSES.map((c) => ({ label: c.name, type: "class", info: c.doc || undefined }))] : []),
    ...upstreamIds.map((id) => ({ label: stepRef(id), type: "variable", detail: "upstream node's output", boost: 1 })),
  ];
  return { from: before.length - (word?.[0].length ?? 0), options };
}

/** A CodeMirror completion source for the node being edited; `upstream` is read at each request. */
export function completionSource(upstream: () => string[], kind: "code" | "expression" | "program") {
  return (ctx: CompletionContext): CompletionResult | null => {
    if (kind === "program") {
      const line = ctx.state.doc.lineAt(ctx.pos);
      const before = ctx.state.sliceDoc(line.from, ctx.pos);
      const found = completeProgram(before, ctx.state.doc.toString(), ctx.explicit);
      return found ? { from: line.from + found.from, options: found.options, validFor: /^[\w$]*$/ } : null;
    }
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = kind === "expression" ? ctx.state.sliceDoc(0, ctx.pos) : ctx.state.sliceDoc(line.from, ctx.pos);
    const found = completeAt(before, upstream(), kind, ctx.explicit);
    if (!found) return null;
    const offset = ctx.pos - before.length;
    return { from: offset + found.from, options: found.options, validFor: /^[\w$]*$/ };
  };
}
