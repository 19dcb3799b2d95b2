"""`{{ js expression }}` in string fields (n8n's convention), turned into JavaScript source.

Expressions see `event`, `steps` (outputs by node id), `input` (the upstream output) and `item`,
`index` (in a loop body). They run inside the sandbox as part of the compiled program, never in
the host; their syntax is checked at validation time by compiling them in a sandbox context.
"""
from __future__ import annotations

import json
import re
from typing import Any

EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)
# Node ids referenced as steps.id or steps["id"] / steps['id'].
STEP_REF = re.compile(r"""\bsteps\s*(?:\.\s*([A-Za-z_$][\w$]*)|\[\s*(["'])(.*?)\2\s*\])""")


def expressions_in(value: Any) -> list[str]:
    """Every expression in a config value (strings, lists and objects walked)."""
    if isinstance(value, str):
        return [m.group(1).strip() for m in EXPR.finditer(value)]
    if isinstance(value, list):
        return [e for v in value for e in expressions_in(v)]
    if isinstance(value, dict):
        return [e for v in value.values() for e in expressions_in(v)]
    return []


def referenced_steps(expression: str) -> set[str]:
    return {m.group(1) or m.group(3) for m in STEP_REF.finditer(expression)}


def to_js(value: Any) -> str:
    """A config value as a JavaScript expression: a whole-field `{{ x }}` keeps x's type; text with
    expressions becomes a template string; anything else is a JSON literal."""
    if isinstance(value, str):
        parts = EXPR.split(value)
        if len(parts) == 3 and parts[0] == "" and parts[2] == "":
            return f"({parts[1].strip()})"
        if len(parts) == 1:
            return json.dumps(value)
        out = []
        for i, part in enumerate(parts):
            if i % 2:
                out.append(f"${{text({part.strip()})}}")
            else:
                out.append(part.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${"))
        return "`" + "".join(out) + "`"
    if isinstance(value, list):
        return "[" + ", ".join(to_js(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)}: {to_js(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


# Messages name the user's source, never the wrapper it is parsed in: an expression cut short
# ("{{ input.total > }}") fails on the wrapper's closing bracket; parsed once more without that
# bracket, a source that then parses has one closing bracket too many, else it ended early.
CHECK = """
(function (sources) {
  const problems = [];
  const parses = (kind, source, close) => {
    try {
      if (kind === "code") new Function("event", "steps", "input", "item", "index", "return (async () => {\\n" + source + "\\n" + close + ");");
      else new Function("event", "steps", "input", "item", "index", "payload", "return (\\n" + source + "\\n" + close + ";");
      return null;
    } catch (e) {
      return String(e.message);
    }
  };
  sources.forEach(([key, kind, source]) => {
    const close = kind === "code" ? "}" : ")";
    let message = parses(kind, source, close);
    if (message === null) return;
    if (/'[)};]'$/.test(message)) {  // the parser stopped at the wrapper's closing bracket or semicolon?
      message = parses(kind, source, "") === null ? "one closing '" + close + "' too many"
        : parses(kind, source, close + close) === null ? "a '" + (close === ")" ? "(" : "{") + "' is never closed"
        : message.endsWith("'" + close + "'") ? (kind === "code" ? "the code ends too early" : "the expression ends too early")
          + " (an operator with nothing after it, or an unclosed bracket?)"
        : message;
    }
    problems.push([key, kind === "code" ? message : "in {{ " + source.trim() + " }}: " + message]);
  });
  return JSON.stringify(problems);
})
"""


def syntax_errors(sources: list[tuple[str, str, str]]) -> dict[str, str]:
    """{key: message} for the (key, "expr" | "code", source) items that do not parse.

    Checked in a sandbox context (compiled, never run: `new Function` only parses)."""
    if not sources:
        return {}
    from engine.sandbox import evaluate

    return dict(json.loads(evaluate(f"{CHECK}({json.dumps(sources)})", timeout_seconds=2.0)))


PREVIEW_CHARS = 2000
PREVIEW_CONTEXT_BYTES = 256 * 1024
PREVIEW_SECONDS = 1.0


def preview(value: str, context: dict) -> dict:
    """A config string's value against sample data (the editor's preview, with its last run's data):
    the JavaScript the compiler emits for it (`to_js`), run in a fresh sandbox context that sees
    `event`, `steps`, `input`, `item`, `index` from `context`. The host bounds it like any tenant code:
    a fresh context (discarded after), a time limit, the pool's memory limit, the answer cut short.
    Returns {ok, value} or {ok: False, error} with the error naming the user's text."""
    from engine.sandbox import EvaluationError, evaluate

    code = ("(function (c) { const text = (v) => (typeof v === \"string\" ? v : JSON.stringify(v));"
            " const { event, steps, input, item, index } = c;"
            f" return JSON.stringify({{ v: ({to_js(value)}) }}); }})({json.dumps(context)})")
    try:
        answer = evaluate(code, timeout_seconds=PREVIEW_SECONDS)
    except EvaluationError as e:
        return {"ok": False, "value": None, "error": f"in {value.strip()}: {e}"}
    result = json.loads(answer).get("v") if isinstance(answer, str) else None
    text = json.dumps(result)
    if len(text) > PREVIEW_CHARS:  # a huge value is cut, shown as text
        return {"ok": True, "value": text[:PREVIEW_CHARS] + "…", "error": None}
    return {"ok": True, "value": result, "error": None}
