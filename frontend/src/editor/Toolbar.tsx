// The editor's toolbar: name and unsaved mark, Save, Validate, Publish, the test payload and Run, the
// published state, undo/redo, auto-layout, export/import, versions, settings, instances and secrets.
import type { RefObject } from "react";
import { confirmLeave, navigate } from "../router";

type Props = {
  workflowId: number; name: string; dirty: boolean; readOnly: boolean; loaded: boolean;
  live: { number: number; key: string } | null; draftKey: string;
  payloadOk: boolean; payloadOpen: boolean; payloadButton: RefObject<HTMLButtonElement | null>;
  showVersions: boolean;
  on: {
    save: () => void; validate: () => void; publish: () => void; togglePayload: () => void; run: () => void;
    undo: () => void; redo: () => void; autoLayout: () => void; exportGraph: () => void; importGraph: (f: File) => void;
    toggleVersions: () => void; toggleSettings: () => void;
  };
};

/** An in-app link: it unmounts the editor without the browser's beforeunload prompt, so it asks here. */
function AppLink({ to, children }: { to: string; children: string }) {
  return <a href={to} onClick={(e) => { e.preventDefault(); if (confirmLeave()) navigate(to); }}>{children}</a>;
}

export function Toolbar({ workflowId, name, dirty, readOnly, loaded, live, draftKey, payloadOk, payloadOpen, payloadButton, showVersions, on }: Props) {
  return (
    <header className="toolbar">
      <AppLink to="/editor/">← Workflows</AppLink>
      <h1>{name}{dirty ? <span aria-label="unsaved changes" title="Unsaved changes"> •</span> : ""}</h1>
      <button onClick={on.save} title="Save the draft as a version (Ctrl/Cmd+S)">Save</button>
      <button onClick={on.validate}>Validate</button>
      <button onClick={on.publish}>Publish</button>
      <button ref={payloadButton} onClick={on.togglePayload} aria-expanded={payloadOpen} aria-controls="payload-editor"
              className={payloadOk ? "" : "bad"} title="The JSON a test run starts with (remembered for this workflow)">Payload{payloadOk ? "" : " ⚠"}</button>
      <button onClick={on.run} disabled={!payloadOk} aria-describedby={payloadOk ? undefined : "run-blocked"}
              title={payloadOk ? "Save the draft and start an instance of it with the test payload" : "Fix the test payload first: it is not JSON"}>Run</button>
      {!payloadOk && <span id="run-blocked" className="badge-note bad">payload is not JSON</span>}
      {loaded && (live === null ? <span className="badge-note">not published</span>
        : live.key !== draftKey ? <span className="badge-note" title="Webhooks, schedules and the API start the published version: Publish makes the draft live">draft differs from v{live.number}</span>
        : <span className="badge-note ok">v{live.number} live</span>)}
      <button onClick={on.undo} aria-label="Undo" title="Undo (Ctrl/Cmd+Z)" disabled={readOnly}>↶</button>
      <button onClick={on.redo} aria-label="Redo" title="Redo (Ctrl/Cmd+Shift+Z)" disabled={readOnly}>↷</button>
      <button onClick={on.autoLayout} disabled={readOnly}>Auto-layout</button>
      <button onClick={on.exportGraph}>Export</button>
      <label className="import button">Import<input type="file" accept="application/json" aria-label="Import graph" className="visually-hidden"
                                                    onChange={(e) => { const f = e.target.files?.[0]; if (f) on.importGraph(f); e.target.value = ""; }} /></label>
      <button onClick={on.toggleVersions} aria-pressed={showVersions}>Versions</button>
      <button onClick={on.toggleSettings} title="Workflow settings: the concurrency limit">Settings</button>
      <AppLink to={`/editor/w/${workflowId}/instances`}>Instances</AppLink>
      <AppLink to="/editor/secrets">Secrets</AppLink>
    </header>
  );
}
