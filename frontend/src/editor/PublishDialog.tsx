// Publish with the safe-deploy check: before a version goes live, the server replays the histories
// of the workflow's instances in flight (and its failed ones) against it
// (POST .../versions/{n}/check) and this dialog says what it found, per instance, before the user
// publishes. Publishing never moves a running instance: they stay on their version.
import type { VersionCheck } from "../api/client";

type Props = { check: VersionCheck; onPublish: () => void; onCancel: () => void };

/** The server's sentence with its `step` names set as code. */
function withCode(text: string) {
  return text.split("`").map((part, i) => (i % 2 ? <code key={i}>{part}</code> : part));
}

const VERDICT: Record<string, string> = { continues: "keeps its checkpoints", diverges: "diverges", fails: "fails" };

export function PublishDialog({ check, onPublish, onCancel }: Props) {
  const noted = check.instances.filter((i) => i.verdict !== "continues");
  const failed = check.restartable;
  return (
    <section className="payload-editor publish-dialog" role="dialog" aria-labelledby="publish-title"
             onKeyDown={(e) => { if (e.key === "Escape") onCancel(); }}>
      <h2 id="publish-title">Publish version {check.version}?</h2>
      <p className="muted">New instances start on v{check.version}. The instances in flight stay on their version; their
        histories were replayed against v{check.version} to see whether they would keep their checkpoints on it.</p>
      <p aria-label="Check summary" className="check-summary">{withCode(check.summary)}</p>
      {failed.total > 0 && (
        <p aria-label="Restart summary">Restarting failed ones on v{check.version} would keep their checkpoints: yes
          for {failed.continues}{Object.entries(failed.diverges_at).map(([step, n]) => <span key={step}>, diverges
          at <code>{step}</code> for {n}</span>)}{failed.fails ? `, fails for ${failed.fails}` : ""}.</p>)}
      {noted.length > 0 && (
        <table className="check-table" aria-label="Instances that would not keep their checkpoints">
          <thead><tr><th>instance</th><th>status</th><th>on</th><th>verdict</th><th>expected</th><th>got</th></tr></thead>
          <tbody>
            {noted.slice(0, 50).map((i) => (
              <tr key={i.id}>
                <td><a href={`/editor/i/${i.id}`}>{i.key}</a></td><td>{i.status}</td><td>v{i.version}</td>
                <td title={i.error?.message as string | undefined}>{VERDICT[i.verdict] ?? i.verdict}{i.step ? <> at <code>{i.step}</code></> : null}</td>
                <td>{i.expected ? <code>{i.expected}</code> : "—"}</td>
                <td>{i.verdict === "diverges" ? (i.got ? <code>{i.got}</code> : "the program ends first") : (i.error?.message as string | undefined) ?? ""}</td>
              </tr>))}
          </tbody>
        </table>)}
      {noted.length > 50 && <p className="muted">and {noted.length - 50} more</p>}
      {check.truncated && <p className="muted">Only the oldest {check.checked} instances were checked.</p>}
      <div className="payload-actions">
        <button onClick={onPublish} autoFocus>Publish v{check.version}</button>
        <button onClick={onCancel}>Cancel</button>
      </div>
    </section>
  );
}
