// A CodeMirror 6 editor as a controlled-enough React component: JavaScript for code nodes, one line
// for `{{ }}` expressions, JSON for Run's test payload, read-only for compiled programs. CodeMirror's own packages are used
// directly (no wrapper library): the editor owns its document, and React only pushes a new value in
// when it differs from what the editor holds (e.g. after undo), so typing never loses the cursor.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import { bracketMatching, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers, placeholder as placeholderExt } from "@codemirror/view";
import { linter, lintGutter } from "@codemirror/lint";
import { useEffect, useRef } from "react";
import { checkCode, checkProgram } from "./check";
import { completionSource } from "./completions";
import { onReveal, takeReveal } from "./reveal";

type Props = {
  value: string;
  onChange?: (value: string) => void;
  // program: a compiled program, read-only; module: a code-first program being written.
  kind: "code" | "expression" | "program" | "module" | "json";
  label: string;
  id?: string;
  upstream?: string[];
  readOnly?: boolean;
  placeholder?: string;
};

const theme = EditorView.theme({
  "&": { border: "1px solid var(--line)", borderRadius: "4px", fontSize: "12px", backgroundColor: "transparent" },
  "&.cm-focused": { outline: "2px solid var(--accent)", outlineOffset: "1px" },
  ".cm-content": { fontFamily: "ui-monospace, monospace", caretColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "transparent", color: "var(--muted)", border: "none" },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent) 8%, transparent)" },
  ".cm-tooltip": { backgroundColor: "var(--bg)", color: "var(--fg)", border: "1px solid var(--line)" },
});

// Colours from CSS variables (style.css), so code reads well in light and dark.
const highlight = HighlightStyle.define([
  { tag: [tags.keyword, tags.operatorKeyword, tags.controlKeyword, tags.definitionKeyword], color: "var(--cm-keyword)" },
  { tag: [tags.string, tags.special(tags.string), tags.regexp], color: "var(--cm-string)" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: "var(--cm-number)" },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: "var(--muted)", fontStyle: "italic" },
  { tag: [tags.propertyName, tags.definition(tags.variableName)], color: "var(--cm-property)" },
  { tag: tags.invalid, color: "var(--bad)" },
]);

// Expressions are one line: a newline typed or pasted would change what the field means.
const singleLine = EditorState.transactionFilter.of((tr) => (tr.newDoc.lines > 1 ? [] : tr));

export function CodeEditor({ value, onChange, kind, label, id, upstream = [], readOnly = false, placeholder }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // Read through refs so the editor is built once per mount, not on every render.
  const change = useRef(onChange);
  change.current = onChange;
  const names = useRef(upstream);
  names.current = upstream;

  useEffect(() => {
    const extensions: Extension[] = [
      theme,
      history(),
      EditorView.contentAttributes.of({ "aria-label": label, ...(id ? { id } : {}) }),
      syntaxHighlighting(highlight),
      EditorView.updateListener.of((u) => { if (u.docChanged) change.current?.(u.state.doc.toString()); }),
    ];
    if (kind === "json") extensions.push(lineNumbers(), json(), bracketMatching(), EditorView.lineWrapping);
    else if (kind !== "expression") extensions.push(lineNumbers(), javascript(), bracketMatching());
    if (kind === "code") extensions.push(highlightActiveLine(), EditorView.lineWrapping);
    if (kind === "module") extensions.push(highlightActiveLine());
    // Checked against the step API's declarations as you type (check.ts), shown in a gutter.
    if (!readOnly && (kind === "code" || kind === "module")) {
      const check = kind === "code" ? checkCode : checkProgram;
      extensions.push(lintGutter(), linter((v) => check(v.state.doc.toString()), { delay: 300 }));
    }
    if (kind === "expression") extensions.push(singleLine, javascript());
    if (readOnly || kind === "program") {
      // Still focusable and selectable (keyboard users can read and copy), never modified.
      extensions.push(EditorState.readOnly.of(true));
    } else if (kind === "json") {
      // No completions: upstream step names mean nothing in a payload.
      extensions.push(closeBrackets(), keymap.of([...closeBracketsKeymap, ...historyKeymap, ...defaultKeymap, indentWithTab]));
    } else {
      extensions.push(
        closeBrackets(),
        autocompletion({ override: [completionSource(() => names.current, kind === "module" ? "program" : kind === "code" ? "code" : "expression")] }),
        keymap.of([...closeBracketsKeymap, ...completionKeymap, ...historyKeymap, ...defaultKeymap, indentWithTab]),
      );
    }
    if (placeholder) extensions.push(placeholderExt(placeholder));
    const v = view.current = new EditorView({ parent: host.current!, state: EditorState.create({ doc: value, extensions }) });
    // "Open this line" (an error's frame, a diagram node): select the line and bring it into view.
    // Scheduled a frame later (the view lays out first); a view destroyed meanwhile takes nothing.
    let frame = 0;
    const reveal = () => {
      if (view.current !== v) return;
      const r = takeReveal(id);
      if (!r) return;
      const doc = v.state.doc;
      const line = doc.line(Math.max(1, Math.min(r.line, doc.lines)));
      const at = line.from + Math.max(0, Math.min((r.column ?? 1) - 1, line.length));
      v.dispatch({ selection: { anchor: at, head: line.to > at ? line.to : at }, effects: EditorView.scrollIntoView(at, { y: "center" }) });
      v.focus();
      host.current?.setAttribute("data-revealed-line", String(line.number));
    };
    const stop = onReveal(() => { frame = window.requestAnimationFrame(reveal); });
    frame = window.requestAnimationFrame(reveal);
    return () => { window.cancelAnimationFrame(frame); stop(); view.current?.destroy(); view.current = null; };
  }, [kind, label, id, readOnly, placeholder]);  // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  return <div ref={host} className={`cm-host cm-${kind}`} data-testid={id} />;
}
