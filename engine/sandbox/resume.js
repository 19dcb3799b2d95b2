    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: the clock, the
    // inbox, the blocked operations and the per-advance state).
    // ---- resuming from a snapshot ----------------------------------------------------------
    // At the end of an advance the program is blocked (nothing runs between advances), so the
    // guest's memory is a coherent image of it. When that image is the state a replay of the
    // instance's record would rebuild, the host may keep it (engine/snapshots.py) and start the
    // next advance from it: resumeBlocked() then decides the one blocked operation exactly as a
    // replay reaching it would (due or not by the new NOW, the new inbox), so both produce the
    // same commands. The state is a replay's when (resumable()):
    // - exactly one durable operation is open, the blocked one, and none was ever called while
    //   another was open (`overlapped`): a replay settles recorded operations in the order it calls
    //   them, which is then the order this context settled them;
    // - the program never saw a value a replay shows otherwise (`tainted`): the clock after a step
    //   settled at NOW (a replay settles it at its stored finish time; the resume sets the clock to
    //   the one the host computes from the record), or the effect of a log line or capability
    //   call made outside any step (a replay makes it again);
    // - the replay part is over, nothing is in flight, parked or queued, and the advance was not
    //   cut short, halted, rolling back, checking, tracing or a partial test run.
    function outsideSteps() {
      if (current !== null) return false;
      for (const key in inflight) return false;
      return true;
    }
    function resumable() {
      if (outcome !== null || failure !== null || halted || cut || UNDO || CHECK || TRACE || SCOPE !== null || seeded.length) return false;
      if (overlapped || tainted || stuck || opened !== 1 || blocked.length !== 1 || timers.length !== 1) return false;
      if (deferred.length || queued.length || replayed < TOTAL || rolling !== null || flushScheduled || commands.length) return false;
      for (const key in inflight) return false;
      for (const key in calls) return false;
      return true;
    }
    // Before an image is taken (engine/snapshots.py): what only a replay reads goes, so the image
    // holds the program's own state and not its history (it would grow with every step): the
    // record's rows, outputs and their index, which rows the replay reached, and the occurrences
    // of step names. A name the program calls later is looked up in the host's record
    // (askOccurrence), which is what the host checks the new step against anyway. Rollback
    // handlers stay: a resumed program that fails rolls back in this context (rollback.js).
    // Asking the host is right because the runtime's count of a name's occurrences is the
    // record's: a durable call that used up an occurrence without a record (a config error thrown
    // after keyOf) never settles, so `opened` stays above one and resumable() is false for good.
    function forget() {
      if (!resumable()) return false;
      rows = list();
      OUTPUTS = list();
      records = new SafeMap();
      reached = list();
      occurrences = new SafeMap();
      init.records = null;
      init.outputs = null;
      init.inbox = null;
      inbox = list(); // the next advance's comes with its resume
      for (const key in finalErrors) delete finalErrors[key];
      forgotten = true;
      return true;
    }
    // The highest occurrence of step `name` in the instance's record, asked of the host (nothing
    // is committed by the question: the command buffer stays as it is). Not asked when the answer
    // cannot matter: the host refuses every message from here on (halted: no step starts), or
    // keyOf refuses the step for the plan's limit just after. So each question uses up one of
    // the plan's steps (keyOf counts it in newSteps, even if a config error follows), and a
    // program looping on refused steps asks nothing (the host counts questions too).
    function askOccurrence(name) {
      if (halted || RECORDED + newSteps >= MAX_STEPS) return 0;
      const reply = JSONParse(hostCall(hostJson({ __proto__: null, cmds: list(), occ: name })));
      if (own(reply, "stop")) halted = true;
      const occ = own(reply, "occ");
      if (typeof occ === "number") return occ;
      if (halted) return 0; // the host refused the question (a lost lease...): nothing more is kept
      throw new WorkflowError(`step ${name}: the host did not say its occurrence`, "ProtocolError");
    }
    // The next advance, in a context restored from the image: `deltaText` is {now, clock, inbox}
    // (the advance's clock, the replay clock of the record, the unconsumed events); the decision
    // runs as the first job of the queue. Returns false, having changed nothing, when this context
    // holds no resumable operation.
    function resumeBlocked(deltaText) {
      if (blocked.length !== 1 || !resumable()) return false;
      const delta = JSONParse(deltaText);
      NOW = delta.now;
      clock = delta.clock;
      inbox = delta.inbox;
      drift = false;
      // What belongs to one advance starts afresh, as in a new context.
      commands = list();
      marks = list();
      skipMarks = 0;
      timers = list();
      for (const type in waitTypes) delete waitTypes[type];
      dirty = false;
      logCount = 0;
      logBytes = 0;
      secrets.length = 0;
      const entry = blocked[0];
      blocked = list();
      // In the job queue, not here: the host runs the program in drain(), under its limits.
      PromiseThenCall(PromiseResolve(), () => {
        let value;
        try {
          value = entry[0]();
        } catch (err) {
          entry[2](err);
          return;
        }
        entry[1](value);
      });
      return true;
    }
