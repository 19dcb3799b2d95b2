// A code-first program as a read-only diagram, as Cloudflare's workflow visualizer draws one: its
// steps (step.do, sleep, sleepUntil, waitForEvent), branches (if, switch), loops, parallel groups
// (Promise.all) and try/catch, laid out top to bottom, each with the line it is written on.
//
// Invariants:
// - Parsed with acorn (the parser the JavaScript tooling world builds on: small, spec-complete,
//   with locations), never run: the program is only read.
// - Only what leads to steps is drawn: an `if` whose branches hold no step is left out, and the
//   callbacks of step.do are not entered (a step inside a step is not a step).
// - Pure (no React, no I/O): the code-first page and the live view draw what it returns, and
//   vitest checks it (diagram.test.ts).
import { parse } from "acorn";

// acorn's nodes, read structurally (the ESTree shapes); only the fields used here.
type Ast = { type: string; start: number; end: number; loc?: { start: { line: number; column: number } }; [key: string]: any };

export type StepOp = "do" | "sleep" | "sleepUntil" | "waitForEvent";
export type Item =
  | { kind: "step"; op: StepOp; name: string; pattern: string | null; line: number; column: number }
  | { kind: "if" | "switch" | "parallel"; label: string; line: number; branches: { label: string; items: Item[] }[] }
  | { kind: "loop"; label: string; line: number; body: Item[] }
  | { kind: "try"; label: string; line: number; body: Item[]; handler: Item[] | null; finalizer: Item[] };

export type Parsed = { ok: true; items: Item[]; stepParam: string } | { ok: false; line: number; column: number; message: string };

const OPS: StepOp[] = ["do", "sleep", "sleepUntil", "waitForEvent"];

/** The `run` function of the module: `export default [async] function run(event, step)` or an arrow. */
function runFunction(program: Ast): Ast | null {
  for (const stmt of program.body as Ast[]) {
    if (stmt.type !== "ExportDefaultDeclaration") continue;
    const d = stmt.declaration as Ast;
    if (d.type === "FunctionDeclaration" || d.type === "FunctionExpression" || d.type === "ArrowFunctionExpression") return d;
    if (d.type === "Identifier") {
      // `export default run;` with run declared above.
      for (const s of program.body as Ast[]) {
        if (s.type === "FunctionDeclaration" && s.id?.name === d.name) return s;
      }
    }
  }
  return null;
}

/** A step's name as written: a string, or a template shown with its holes (`fetch-${i}`) and matched by a pattern. */
function nameOf(arg: Ast | undefined, source: string): { name: string; pattern: string | null } {
  if (!arg) return { name: "?", pattern: null };
  if (arg.type === "Literal" && typeof arg.value === "string") return { name: arg.value, pattern: null };
  if (arg.type === "TemplateLiteral") {
    const quasis = (arg.quasis as Ast[]).map((q) => q.value.cooked as string);
    const name = source.slice(arg.start + 1, arg.end - 1);
    if (quasis.length === 1) return { name: quasis[0], pattern: null };
    const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return { name, pattern: `^${quasis.map(escape).join(".*")}$` };
  }
  const text = source.slice(arg.start, arg.end);
  return { name: text, pattern: ".*" };  // computed: any step may be it
}

const line = (n: Ast) => n.loc?.start.line ?? 0;
const text = (n: Ast, source: string, max = 48) => {
  const t = source.slice(n.start, n.end).replace(/\s+/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

class Reader {
  constructor(private source: string, private step: string) {}

  isStepCall(n: Ast): StepOp | null {
    const c = n.callee as Ast;
    if (n.type !== "CallExpression" || c.type !== "MemberExpression" || c.computed) return null;
    if (c.object.type !== "Identifier" || c.object.name !== this.step) return null;
    return OPS.includes(c.property.name) ? (c.property.name as StepOp) : null;
  }

  isPromiseAll(n: Ast): boolean {
    const c = n.callee as Ast;
    return n.type === "CallExpression" && c.type === "MemberExpression" && c.object.type === "Identifier" && c.object.name === "Promise"
      && ["all", "allSettled", "race", "any"].includes(c.property.name);
  }

  /** Items of a list of statements. */
  block(stmts: Ast[]): Item[] {
    return stmts.flatMap((s) => this.statement(s));
  }

  body(n: Ast | null | undefined): Item[] {
    if (!n) return [];
    return n.type === "BlockStatement" ? this.block(n.body) : this.statement(n);
  }

  statement(s: Ast): Item[] {
    switch (s.type) {
      case "IfStatement": {
        const yes = this.body(s.consequent);
        const no = this.body(s.alternate);
        const test = this.expression(s.test);
        if (!yes.length && !no.length) return test;
        return [...test, { kind: "if", label: `if (${text(s.test, this.source)})`, line: line(s),
                           branches: [{ label: "true", items: yes }, { label: "false", items: no }] }];
      }
      case "SwitchStatement": {
        const branches = (s.cases as Ast[]).map((c) => ({
          label: c.test ? `case ${text(c.test, this.source, 20)}` : "default", items: this.block(c.consequent),
        }));
        if (!branches.some((b) => b.items.length)) return this.expression(s.discriminant);
        if (!(s.cases as Ast[]).some((c) => !c.test)) branches.push({ label: "default", items: [] });
        return [{ kind: "switch", label: `switch (${text(s.discriminant, this.source)})`, line: line(s), branches }];
      }
      case "ForStatement": case "ForOfStatement": case "ForInStatement": case "WhileStatement": case "DoWhileStatement": {
        const body = this.body(s.body);
        if (!body.length) return [];
        const head = s.type === "ForOfStatement" ? `for (${text(s.left, this.source, 20)} of ${text(s.right, this.source, 24)})`
          : s.type === "ForInStatement" ? `for (${text(s.left, this.source, 20)} in ${text(s.right, this.source, 24)})`
          : s.type === "ForStatement" ? "for (…)" : `while (${text(s.test, this.source, 30)})`;
        return [{ kind: "loop", label: head, line: line(s), body }];
      }
      case "TryStatement": {
        const body = this.body(s.block);
        const handler = s.handler ? this.body(s.handler.body) : null;
        const finalizer = this.body(s.finalizer);
        if (!body.length && !handler?.length && !finalizer.length) return [];
        return [{ kind: "try", label: s.handler?.param ? `try / catch (${text(s.handler.param, this.source, 16)})` : "try", line: line(s),
                  body, handler, finalizer }];
      }
      case "BlockStatement": return this.block(s.body);
      case "LabeledStatement": return this.statement(s.body);
      case "VariableDeclaration": return (s.declarations as Ast[]).flatMap((d) => (d.init ? this.expression(d.init) : []));
      case "ExpressionStatement": return this.expression(s.expression);
      case "ReturnStatement": case "ThrowStatement": return s.argument ? this.expression(s.argument) : [];
      default: return [];
    }
  }

  /** Steps in an expression, in evaluation order; Promise.all over steps is a parallel group. */
  expression(e: Ast | null | undefined): Item[] {
    if (!e || typeof e !== "object") return [];
    if (e.type === "CallExpression") {
      const op = this.isStepCall(e);
      if (op) {
        const { name, pattern } = nameOf(e.arguments[0], this.source);
        // The callback and config are not entered: a step's body is not part of the flow.
        return [{ kind: "step", op, name, pattern, line: line(e), column: (e.loc?.start.column ?? 0) + 1 }];
      }
      if (this.isPromiseAll(e)) {
        const arg = e.arguments[0] as Ast | undefined;
        let branches: { label: string; items: Item[] }[] = [];
        if (arg?.type === "ArrayExpression") {
          branches = (arg.elements as Ast[]).map((el, i) => ({ label: String(i + 1), items: this.expression(el) }));
        } else if (arg) {
          // items.map((x) => step.do(...)): one branch per item, drawn once.
          branches = [{ label: "each", items: this.expression(arg) }];
        }
        branches = branches.filter((b) => b.items.length);
        if (!branches.length) return [];
        const callee = e.callee as Ast;
        return [{ kind: "parallel", label: `Promise.${callee.property.name}`, line: line(e), branches }];
      }
    }
    if (e.type === "ArrowFunctionExpression" || e.type === "FunctionExpression") {
      return e.body.type === "BlockStatement" ? this.block(e.body.body) : this.expression(e.body);
    }
    if (e.type === "ConditionalExpression") {
      const yes = this.expression(e.consequent), no = this.expression(e.alternate);
      const test = this.expression(e.test);
      if (!yes.length && !no.length) return test;
      return [...test, { kind: "if", label: `${text(e.test, this.source)} ?`, line: line(e),
                         branches: [{ label: "true", items: yes }, { label: "false", items: no }] }];
    }
    // Anything else: its sub-expressions in source order.
    const out: Item[] = [];
    for (const key of Object.keys(e)) {
      if (key === "loc" || key === "type" || key === "start" || key === "end") continue;
      const v = e[key];
      if (Array.isArray(v)) v.forEach((x) => { if (x && typeof x.type === "string") out.push(...this.expression(x)); });
      else if (v && typeof v.type === "string") out.push(...this.expression(v));
    }
    return out;
  }
}

/** Parse a program into its diagram items, or say where it does not parse. */
export function readProgram(source: string): Parsed {
  let program: Ast;
  try {
    program = parse(source, { ecmaVersion: "latest", sourceType: "module", locations: true }) as unknown as Ast;
  } catch (e) {
    const err = e as { loc?: { line: number; column: number }; message?: string };
    return { ok: false, line: err.loc?.line ?? 1, column: (err.loc?.column ?? 0) + 1, message: String(err.message ?? e).replace(/ \(\d+:\d+\)$/, "") };
  }
  const run = runFunction(program);
  if (!run) return { ok: false, line: 1, column: 1, message: "the program has no `export default async function run(event, step)`" };
  const param = (run.params as Ast[])[1];
  const stepParam = param?.type === "Identifier" ? param.name : "step";
  const reader = new Reader(source, stepParam);
  const items = run.body.type === "BlockStatement" ? reader.block(run.body.body) : reader.expression(run.body);
  return { ok: true, items, stepParam };
}

// ---- layout: items -> positioned nodes and edges (top to bottom) ---------------------------------

export type DiagramNode = {
  id: string; kind: Item["kind"] | "end"; label: string; line: number;
  op?: StepOp; name?: string; pattern?: string | null; x: number; y: number;
};
export type DiagramEdge = { id: string; source: string; target: string; label?: string; back?: boolean };
export type Diagram = { nodes: DiagramNode[]; edges: DiagramEdge[] };

export const NODE_W = 220, STEP_H = 64, CONTROL_H = 40, GAP_X = 40, GAP_Y = 46;

type Exit = { id: string; label?: string };
type Block = { nodes: DiagramNode[]; edges: DiagramEdge[]; entry: string | null; exits: Exit[]; width: number; height: number };

class Layout {
  private n = 0;
  private e = 0;
  nodes: DiagramNode[] = [];
  edges: DiagramEdge[] = [];

  node(kind: DiagramNode["kind"], label: string, line: number, x: number, y: number, extra: Partial<DiagramNode> = {}): DiagramNode {
    const d = { id: `${kind === "step" ? "s" : "c"}${++this.n}`, kind, label, line, x, y, ...extra };
    this.nodes.push(d);
    return d;
  }

  edge(from: Exit, to: string, back = false) {
    this.edges.push({ id: `e${++this.e}`, source: from.id, target: to, ...(from.label ? { label: from.label } : {}), ...(back ? { back } : {}) });
  }

  /** Measure a list of items without placing: its width. */
  width(items: Item[]): number {
    return Math.max(NODE_W, ...items.map((it) => this.itemWidth(it)));
  }

  itemWidth(it: Item): number {
    switch (it.kind) {
      case "step": return NODE_W;
      case "loop": return this.width(it.body) + GAP_X;
      case "try": return this.width(it.body) + (it.handler ? GAP_X + this.width(it.handler) : 0);
      default: return it.branches.reduce((w, b, i) => w + (i ? GAP_X : 0) + (b.items.length ? this.width(b.items) : NODE_W / 2), 0);
    }
  }

  /** Place `items` from (x, y) within `width`; returns the entry node and the exits to link onward. */
  sequence(items: Item[], x: number, y: number, width: number, incoming: Exit[]): { exits: Exit[]; bottom: number } {
    let exits = incoming;
    let top = y;
    for (const it of items) {
      const r = this.item(it, x, top, width, exits);
      exits = r.exits;
      top = r.bottom + GAP_Y;
    }
    return { exits, bottom: items.length ? top - GAP_Y : y - GAP_Y };
  }

  item(it: Item, x: number, y: number, width: number, incoming: Exit[]): { exits: Exit[]; bottom: number } {
    const centre = x + (width - NODE_W) / 2;
    if (it.kind === "step") {
      const d = this.node("step", it.name, it.line, centre, y, { op: it.op, name: it.name, pattern: it.pattern });
      incoming.forEach((from) => this.edge(from, d.id));
      return { exits: [{ id: d.id }], bottom: y + STEP_H };
    }
    const head = this.node(it.kind, it.label, it.line, centre, y);
    incoming.forEach((from) => this.edge(from, head.id));
    const below = y + CONTROL_H + GAP_Y;
    if (it.kind === "loop") {
      const inner = this.width(it.body);
      const r = this.sequence(it.body, x + GAP_X, below, inner, [{ id: head.id, label: "each" }]);
      r.exits.forEach((from) => this.edge({ id: from.id, label: "next" }, head.id, true));
      return { exits: [{ id: head.id, label: "done" }], bottom: r.bottom };
    }
    if (it.kind === "try") {
      const bodyW = this.width(it.body);
      const r = this.sequence(it.body, x, below, bodyW, [{ id: head.id, label: "try" }]);
      let exits = r.exits, bottom = r.bottom;
      if (it.handler) {
        const h = this.sequence(it.handler, x + bodyW + GAP_X, below, this.width(it.handler), [{ id: head.id, label: "on error" }]);
        exits = [...exits, ...h.exits];
        bottom = Math.max(bottom, h.bottom);
      }
      if (it.finalizer.length) {
        const f = this.sequence(it.finalizer, x, bottom + GAP_Y, width, exits.map((e) => ({ ...e, label: e.label ?? "finally" })));
        return f;
      }
      return { exits, bottom };
    }
    // if / switch / parallel: branches side by side under the head.
    let left = x + (width - this.itemWidth(it)) / 2;
    let bottom = below - GAP_Y;
    const exits: Exit[] = [];
    for (const b of it.branches) {
      if (!b.items.length) {
        exits.push({ id: head.id, label: b.label });  // an empty branch goes straight on
        left += NODE_W / 2 + GAP_X;
        continue;
      }
      const w = this.width(b.items);
      const r = this.sequence(b.items, left, below, w, [{ id: head.id, label: it.kind === "parallel" ? undefined : b.label }]);
      exits.push(...r.exits);
      bottom = Math.max(bottom, r.bottom);
      left += w + GAP_X;
    }
    return { exits, bottom };
  }
}

/** The diagram of parsed items: nodes at absolute positions, edges (loop-backs marked `back`). */
export function layoutItems(items: Item[]): Diagram {
  const l = new Layout();
  const width = l.width(items);
  const start = l.node("end", "start", 0, (width - NODE_W) / 2, 0);
  const r = l.sequence(items, 0, CONTROL_H + GAP_Y, width, [{ id: start.id }]);
  const end = l.node("end", "end", 0, (width - NODE_W) / 2, r.bottom + GAP_Y);
  r.exits.forEach((from) => l.edge(from, end.id));
  return { nodes: l.nodes, edges: l.edges };
}

export function diagramOf(source: string): { diagram: Diagram | null; error: Extract<Parsed, { ok: false }> | null } {
  const parsed = readProgram(source);
  return parsed.ok ? { diagram: layoutItems(parsed.items), error: null } : { diagram: null, error: parsed };
}

// ---- live overlay: which step records belong to which diagram node -------------------------------

/**
 * Step names (in the order their records began, `key` being "name" or "name (n)" for the n-th
 * occurrence) assigned to diagram step nodes: a literal name's n-th node in document order takes
 * its n-th occurrence (the last node takes the rest, e.g. inside a loop); a template's node takes
 * every name its pattern matches and no literal node claimed.
 */
export function assignSteps(nodes: DiagramNode[], records: { key: string; name: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const literal = new Map<string, DiagramNode[]>();
  for (const n of nodes) {
    if (n.kind !== "step") continue;
    out[n.id] = [];
    if (!n.pattern) literal.set(n.name!, [...(literal.get(n.name!) ?? []), n]);
  }
  const seen = new Map<string, number>();
  for (const r of records) {
    const k = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, k);
    const same = literal.get(r.name);
    if (same) { out[same[Math.min(k, same.length) - 1].id].push(r.key); continue; }
    const templ = nodes.find((n) => n.kind === "step" && n.pattern && new RegExp(n.pattern).test(r.name));
    if (templ) out[templ.id].push(r.key);
  }
  return out;
}
