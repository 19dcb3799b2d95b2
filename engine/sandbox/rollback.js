    // ---- rollbacks -------------------------------------------------------------------------
    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: emit, flush, the
    // in-flight map), so this file is not a module of its own.
    //
    // Saga rollbacks, as Cloudflare Workflows has them: `step.do(name, [config], fn, { rollback,
    // rollbackConfig })` registers a handler. When the instance fails (or is terminated with
    // rollback), the HOST starts the rollback phase: it calls rollback(plan) with the steps to undo
    // in the order it decided itself (the reverse of the order the steps started, among completed
    // steps that registered a handler when they first ran), and each handler runs here as a durable
    // step of its own: commands rstart, rok and rfail, each flushed at once, so a rollback committed
    // as done never runs again, and one cut short by a crash is retried as a lost attempt. One at a
    // time; a failed one does not stop the next; one waiting for a retry holds the ones after it.
    // Invariants: a handler receives { ctx, output, error } where ctx (the original step's context)
    // and output (its committed result) come from the host's own records, not from this realm;
    // nothing new of the program runs in the phase (prelude.js: idle()), and a handler cannot start
    // steps, sleeps or waits.
    const handlers = new SafeMap(); // step key -> the options step.do received ({ rollback, rollbackConfig })
    let rolling = null; // the key of the step whose rollback has an attempt running

    // plan: { error: {name, message}, steps: [[name, occurrence, attempts, status, wake], ...] }.
    async function rollBack(plan) {
      const steps = plan.steps;
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i];
        if (!(await undo(s[0], s[1], s[2], s[3], s[4], plan.error))) return;
      }
    }

    function handlerOf(name, key) {
      const options = MapGet(handlers, key);
      if (options === undefined) {
        return { __proto__: null, problem: { __proto__: null, name: "RollbackMissingError",
          message: `step ${name}: its rollback handler was not registered when the program ran again (the program is not deterministic)` } };
      }
      try {
        return rollbackOptions(name, options);
      } catch (err) {
        return { __proto__: null, problem: errorInfo(err) };
      }
    }

    // A failed rollback attempt: null (failed for good), a wake time (a retry), or a promise of
    // either (its delay function runs).
    async function afterFailure(name, occ, key, attempt, cfg, info, final) {
      let next = failedAttempt(true, name, occ, key, attempt, cfg, info, final);
      if (next !== null && typeof next === "object") next = await next;
      return next;
    }

    // Runs the rollback of step (name, occ) until it completes or fails for good (true), or waits
    // for a retry (false). `attempts`, `status`, `wake`: its record so far (status null: none).
    async function undo(name, occ, attempts, status, wake, failureInfo) {
      const key = name + SEP + occ;
      const slot = key + SEP + "rollback";
      const handler = handlerOf(name, key);
      const cfg = handler.config || stepConfig(`the rollback of step ${name}`, undefined);
      let attempt = attempts;
      if (status === "running") {
        const lost = { __proto__: null, name: "WorkerLostError", message: `the worker running attempt ${attempt} of the rollback of step ${name} stopped before it finished` };
        const next = await afterFailure(name, occ, key, attempt, cfg, lost, false);
        if (halted) return false;
        if (next === null) return true;
        if (next > NOW) { block(next); return false; }
      } else if (status === "retrying" && wake > NOW) {
        block(wake);
        return false;
      }
      for (;;) {
        if (halted) return false;
        attempt += 1;
        emit({ __proto__: null, t: "rstart", s: name, o: occ, a: attempt });
        const reply = flush(); // committed before the handler runs; the host answers with its records
        if (halted) return false;
        if (handler.problem) {
          failed(true, name, occ, key, attempt, cfg, handler.problem, true);
          return true;
        }
        const step = own(reply, "rollback");
        const ctx = { step: { name, count: occ }, attempt: own(step, "attempt"), config: userConfig(plain(own(step, "config"))) };
        inflight[slot] = [name, occ, attempt, cfg, true, false];
        const timed = cfg.timeout < TIME_LIMIT_MS;
        if (timed) flush({ __proto__: null, deadline: [slot, cfg.timeout] });
        let over = false;
        rolling = key;
        try {
          await handler.fn({ ctx, output: JSONParse(own(step, "output")), error: toError(failureInfo) });
          over = true;
          if (timed) flush({ __proto__: null, clear: slot });
        } catch (err) {
          const exhausted = err === null && memoryQuery();
          if (!over && timed) flush({ __proto__: null, clear: slot });
          delete inflight[slot];
          rolling = null;
          const info = exhausted ? memoryError() : err === null ? { __proto__: null, name: "Error", message: "null" } : errorInfo(err);
          if (halted) return false;
          const next = await afterFailure(name, occ, key, attempt, cfg, info, isPrototypeOfSafe(NonRetryableError.prototype, err));
          if (halted) return false;
          if (next === null) return true;
          if (next > NOW) { block(next); return false; }
          continue; // no delay: the next attempt runs now
        }
        delete inflight[slot];
        rolling = null;
        if (halted) return false;
        emit({ __proto__: null, t: "rok", s: name, o: occ, a: attempt });
        flush();
        return true;
      }
    }
