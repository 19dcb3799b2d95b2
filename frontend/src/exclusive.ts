// One at a time: Save, Publish and Run each take several requests (save the draft, make a version,
// publish or start an instance). A double click, or Ctrl+S while Run is in flight, would otherwise
// interleave them: two instances started by one Run, a draft saved over by an older request.
// The live view's actions are guarded the same way (a double-clicked Send sent the event twice).
// A call made while another is pending is dropped (the pending one already does what was asked).

/**
 * Newest answer wins: take a ticket before a request and apply its answer only while the ticket is
 * still the newest. A slow answer for an earlier search, filter or graph arriving last would
 * otherwise replace the newer one on screen.
 */
export function newestOnly() {
  let last = 0;
  return (): (() => boolean) => {
    const mine = ++last;
    return () => mine === last;
  };
}

export function oneAtATime() {
  let busy = false;
  return <A extends unknown[]>(action: (...args: A) => Promise<unknown>) => async (...args: A): Promise<void> => {
    if (busy) return;
    busy = true;
    try { await action(...args); } finally { busy = false; }
  };
}

/**
 * One action at a time, in the order asked: Save, Publish and Run share a turn. A second call of
 * the same action while it is pending is dropped (a double click: the pending one already does
 * it), but a different action waits for its turn instead: a Publish clicked while Ctrl+S's save
 * is in flight runs after it, never lost.
 */
export function inTurn() {
  let tail: Promise<unknown> = Promise.resolve();
  const pending = new Set<string>();
  return <A extends unknown[]>(key: string, action: (...args: A) => Promise<unknown>) => async (...args: A): Promise<void> => {
    if (pending.has(key)) return;
    pending.add(key);
    const mine = tail.then(() => action(...args)).finally(() => pending.delete(key));
    tail = mine.catch(() => undefined);
    await mine;
  };
}
