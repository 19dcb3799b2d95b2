    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: the records).
    // ---- the record's order ----------------------------------------------------------------------
    // A step the record does not have (a new step) waits until the replay has reached every
    // recorded step: only then is it known that the program still takes the recorded path. Under
    // Promise.all a replay reaches the recorded steps in another order than the first run started
    // them, so the order among recorded steps is not judged; a recorded step the program no longer
    // reaches before it would take a new one (a step renamed, inserted or removed) is, and
    // finish() reports it (`diverged`); the host ends the instance with a NonDeterminismError.
    // A test instance's seeded results (engine/seeding.py) are optional: the program may reach
    // them or not, in any order; only the other records make the recorded path.
    const optional = list();
    const seeded = init.optional || [];
    for (let k = 0; k < seeded.length; k++) optional[seeded[k]] = true;
    const TOTAL = rows.length - seeded.length;
    let reached = list(); // dropped by forget() (resume.js): the replay is over by then
    let replayed = 0;
    let deferred = list(); // [resolve, name, occurrence, kind] of new steps waiting for the replay
    let cut = false; // a limit interrupted the advance: what was not reached proves nothing
    function reach(i) {
      if (reached[i] === true) return;
      reached[i] = true;
      if (optional[i] === true) return;
      replayed += 1;
      if (replayed === TOTAL && !CHECK) {
        const waiting = deferred;
        deferred = list();
        for (let d = 0; d < waiting.length; d++) waiting[d][0]();
      }
    }
    // A promise a new step awaits before it runs, or null when the replay is over (never in CHECK).
    function gate(name, occ, kind) {
      if (replayed >= TOTAL && !CHECK) return null;
      let open;
      const p = new SafePromise((resolve) => { open = resolve; });
      ObjectDefineProperty(p, "then", { value: PromiseThen });
      const entry = list();
      append(entry, open); append(entry, name); append(entry, occ); append(entry, kind);
      append(deferred, entry);
      return p;
    }
    // A partial test run's scope (engine/seeding.py): a new step of a node outside it is parked,
    // never started (its branch waits; the host would refuse its start). Mirrors protocol.within.
    const SCOPE = init.scope ? { __proto__: null } : null;
    if (SCOPE !== null) for (let k = 0; k < init.scope.length; k++) SCOPE[init.scope[k]] = true;
    function outside(name) {
      if (SCOPE === null || SCOPE[name] === true) return false;
      for (let i = 0; i < name.length; i++) {
        const ch = StringCharCodeAt(name, i);
        if ((ch === 91 || ch === 46) && SCOPE[StringSlice(name, 0, i)] === true) return false; // "[" or "."
      }
      return true;
    }
    function divergence() {
      if (halted || cut || replayed >= TOTAL) return null;
      let i = 0;
      while (i < rows.length && (reached[i] === true || optional[i] === true)) i++;
      const d = list();
      append(d, rows[i][0]); append(d, rows[i][1]);
      const got = deferred.length ? deferred[0] : null;
      append(d, got ? got[1] : null); append(d, got ? got[2] : null); append(d, got ? got[3] : null);
      return d;
    }
