    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: emit, flush, the
    // records, NOW). A failed attempt of a step or of a rollback: recorded final, or with the time
    // its retry is due (the config's backoff, or its delay function's result under the host's 5 s
    // deadline).
    // ---- failed attempts and retry delays ---------------------------------------------------
    const finalErrors = { __proto__: null }; // step key -> the error its last attempt failed with for good
    // Records a failed attempt (of a step, or with `undoing` of a rollback); returns when the next
    // attempt is due, or null when it failed for good. `base`: the delay its function returned.
    function failed(undoing, name, occ, key, attempt, cfg, info, final, base) {
      const t = undoing ? "rfail" : "fail";
      if (final || attempt > cfg.retries.limit) {
        finalErrors[key] = info;
        emit({ __proto__: null, t, s: name, o: occ, a: attempt, e: info, final: true });
        if (dirty || undoing) flush();
        if (!undoing) settleNow(key);
        return null;
      }
      // A delay function that could not be called (the attempt was cut short by a limit, so the
      // sandbox has no time left) falls back to the default delay, through the backoff.
      const delay = retryDelay(cfg, attempt, base !== undefined ? base : dynamic(cfg) ? DEFAULTS.delay : undefined);
      emit({ __proto__: null, t, s: name, o: occ, a: attempt, e: info, delay, wake: NOW + delay });
      if (dirty || undoing) flush();
      return NOW + delay;
    }
    // As failed(), calling the config's delay function first when it has one (and a retry is left):
    // once per failed attempt, under a deadline of 5 s the host enforces. A delay function that
    // throws, does not return in time or returns what is not a duration fails the step for good.
    function failedAttempt(undoing, name, occ, key, attempt, cfg, info, final) {
      if (final || attempt > cfg.retries.limit || !dynamic(cfg)) return failed(undoing, name, occ, key, attempt, cfg, info, final);
      return failedAfterDelayFunction(undoing, name, occ, key, attempt, cfg, info);
    }
    async function failedAfterDelayFunction(undoing, name, occ, key, attempt, cfg, info) {
      const what = undoing ? `the rollback of step ${name}` : `step ${name}`;
      const slot = undoing ? key + SEP + "rollback" : key;
      inflight[slot] = [name, occ, attempt, cfg, undoing, true, info]; // interrupted() fails it, typed
      flush({ __proto__: null, deadline: [slot, DELAY_FUNCTION_MS] });
      let value, problem = null;
      try {
        value = await cfg.retries.delay({ ctx: stepContext(name, occ, attempt, cfg), error: toError(info) });
      } catch (err) {
        problem = `threw ${safeText(field(err, "message") === undefined ? err : field(err, "message"))}`;
      }
      delete inflight[slot];
      if (halted) return null; // the caller sees `halted` and stops
      flush({ __proto__: null, clear: slot });
      let base = null;
      if (problem === null) {
        base = delayValue(value);
        if (base === null) problem = `returned ${typeof value === "string" ? JSONStringify(value) : safeText(value)}, not a duration ("30 seconds") or milliseconds`;
      }
      if (problem !== null) {
        const error = delayError(what, problem, info);
        return failed(undoing, name, occ, key, attempt, cfg, error, true);
      }
      return failed(undoing, name, occ, key, attempt, cfg, info, false, base);
    }
    function delayError(what, problem, info) {
      return { __proto__: null, name: "DelayFunctionError",
        message: StringSlice(`${what}: its retry delay function ${problem} (after attempt failed with ${info.name}: ${info.message})`, 0, 4096) };
    }
