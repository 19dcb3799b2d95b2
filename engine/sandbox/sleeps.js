    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: emit, block, the
    // records). step.sleep, step.sleepUntil and step.waitForEvent: a pending one blocks the program
    // on a timer (its wake or timeout) and the instance waits at no cost; the runtime decides
    // whether a timer is due by the advance's clock (NOW) only.
    // ---- sleeps ----------------------------------------------------------------------------
    async function sleepUntil(name, wakeAt) {
      if (opened > 0) overlapped = true;
      opened += 1;
      const k = keyOf(name, "sleep");
      const occ = k[0], key = k[1], index = k[2];
      const rec = index === undefined ? undefined : row(index);
      if (rec && rec.status === "complete") { settle(rec.wake, key); return; }
      if (idle()) return never;
      if (rec) return slept(name, occ, key, rec.wake);
      if (outside(name)) return never; // parked: outside a partial test run's scope
      const wait = gate(name, occ, "sleep");
      if (wait !== null) await wait;
      if (idle()) return never;
      const wake = wakeAt();
      emit({ __proto__: null, t: "sleep", s: name, o: occ, wake });
      if (wake > NOW) return block(wake, () => idle() ? never : slept(name, occ, key, wake));
      emit({ __proto__: null, t: "slept", s: name, o: occ });
      settle(wake, key);
    }
    // A recorded sleep, not complete: due or not by NOW.
    function slept(name, occ, key, wake) {
      if (wake > NOW) return block(wake, () => idle() ? never : slept(name, occ, key, wake));
      emit({ __proto__: null, t: "slept", s: name, o: occ });
      settle(wake, key);
      return undefined;
    }
    function sleep(name, value) {
      return sleepUntil(name, () => NOW + duration(value, `sleep ${name}`));
    }
    function sleepUntilDate(name, date) {
      return sleepUntil(name, () => {
        let ms = date;
        if (protoIs(DatePrototype, date)) {
          try { ms = DateGetTime(date); } catch (e) { ms = NaN; }
        } else if (typeof date === "string") ms = DateParse(date);
        if (typeof ms !== "number" || !NumberIsFinite(ms)) throw new WorkflowError(`sleepUntil ${name}: not a date: ${safeText(date)}`, "ConfigError");
        if (ms - NOW > 365 * DAY) throw new WorkflowError(`sleepUntil ${name}: date is more than 365 days ahead`, "ConfigError");
        return ms < NOW ? NOW : MathRound(ms);
      });
    }

    // ---- waitForEvent ----------------------------------------------------------------------
    async function waitForEvent(name, options) {
      if (opened > 0) overlapped = true;
      opened += 1;
      const k = keyOf(name, "wait");
      const occ = k[0], key = k[1], index = k[2];
      const rec = index === undefined ? undefined : row(index);
      const type = options === null || options === undefined ? undefined : options.type;
      if (typeof type !== "string" || !type || type.length > 128) throw new WorkflowError(`waitForEvent ${name}: type is required (at most 128 characters)`, "ConfigError");
      let deadline;
      if (rec) {
        if (rec.status === "complete") { settle(rec.done, key); return rec.out; }
        if (rec.status === "errored") { settle(rec.done, key); throw toError(rec.err); }
      }
      if (idle()) return never;
      if (rec) {
        deadline = rec.wake;
      } else {
        if (outside(name)) return never; // parked: outside a partial test run's scope
        const wait = gate(name, occ, "wait");
        if (wait !== null) await wait;
        if (idle()) return never;
        const timeout = options.timeout;
        deadline = NOW + duration(timeout === undefined ? "24 hours" : timeout, `waitForEvent ${name}: timeout`);
        emit({ __proto__: null, t: "wait", s: name, o: occ, type, wake: deadline });
      }
      return waited(name, occ, key, type, deadline);
    }
    // A pending wait: an event of its type in the inbox, its timeout by NOW, or it blocks.
    function waited(name, occ, key, type, deadline) {
      for (let i = 0; i < inbox.length; i++) {
        const event = inbox[i];
        if (event === null || event.type !== type) continue;
        inbox[i] = null; // consumed
        const text = encode({ __proto__: null, type: event.type, payload: event.payload, timestamp: event.timestamp });
        emit({ __proto__: null, t: "got", s: name, o: occ, ev: event.id, v: text });
        settleNow(key);
        return JSONParse(text);
      }
      if (deadline <= NOW) {
        const info = { __proto__: null, name: "WaitTimeoutError", message: `waitForEvent ${name}: no ${type} event arrived before the timeout` };
        emit({ __proto__: null, t: "timeout", s: name, o: occ, e: info });
        settleNow(key);
        throw toError(info);
      }
      waitTypes[type] = true;
      return block(deadline, () => idle() ? never : waited(name, occ, key, type, deadline));
    }

