    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: emit, the limits).
    // console.* lines become `log` commands, capped by count and bytes (the host caps them again).
    // ---- logs ------------------------------------------------------------------------------
    function logger(level) {
      return (...args) => {
        if (halted || logCount >= MAX_LOGS || logBytes >= MAX_LOG_BYTES) return;
        if (outsideSteps()) tainted = true; // a replay writes this line again
        let text = "";
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          let part;
          if (typeof a === "string") part = a;
          else {
            try { part = JSONStringify(a); } catch (e) { part = undefined; }
            if (typeof part !== "string") part = safeText(a);
          }
          text = i === 0 ? part : text + " " + part;
          if (text.length > 8192) break;
        }
        text = StringSlice(text, 0, 8192);
        logCount += 1;
        logBytes += text.length;
        const full = logCount === MAX_LOGS || logBytes >= MAX_LOG_BYTES;
        emit({ __proto__: null, t: "log", l: level, s: current, m: full ? "(log limit reached: later lines of this run are dropped)" : text });
      };
    }
    globalThis.console = { log: logger("info"), info: logger("info"), warn: logger("warn"), error: logger("error"), debug: logger("debug") };

