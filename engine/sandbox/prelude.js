// The step API, evaluated in every fresh sandbox context before the tenant's program.
//
// This is the engine's deterministic core: checkpoints and the inbox come in (one JSON string),
// commands go out (JSON strings, declared in protocol.py beside this file). Invariants:
// - A step with a final checkpoint (complete or errored) is never run: its stored result is
//   returned, or its stored error thrown.
// - Only the current advance's clock (NOW: init.now, or a resume's) decides whether a sleep, a
//   retry or a wait is due;
//   the program sees a logical clock (Date.now) that moves only at durable points, and a random
//   generator reseeded at each durable point, so a replay takes the path the first run took.
// - Commands are buffered and sent in batches (each crossing of the host boundary costs about a
//   millisecond); the buffer is flushed before a host capability runs and right after a step that
//   used one completes (in a microtask, before the code awaiting it goes on), so such a step is
//   committed before the next one starts. Calls of concurrent capabilities (step.http) made in one
//   turn go to the host together and their results come back later (settle), so they overlap.
// - A context resumed from an image of the program blocked at the end of an earlier advance
//   (resume.js, engine/snapshots.py) emits exactly what a replay of the same record would: the
//   runtime reports such an image as resumable only when its state is the one a replay rebuilds,
//   and the resume decides the one blocked operation as a replay reaching it would.
//
// The runtime shares the JavaScript realm with the tenant's program, so it is written like
// Node.js's internals: every intrinsic it uses is captured in primordials.js, in a pristine realm,
// before any tenant code exists, and called through the captured references; its own objects and
// arrays have no prototype, so getters or setters a program puts on Object.prototype or
// Array.prototype, a replaced JSON, Array, Promise or Map method, or a patched
// Function.prototype.call change nothing it reports. It leaves no global handle: __boot deletes
// itself and __host, and returns the engine's entry points to a module of the host's (runtime.py),
// whose namespace only the host holds. The host still treats every message as hostile
// (protocol.py): this file keeps honest programs correct, not the host safe.
//
// runtime.py evaluates primordials.js and this file in one closure; that only defines __boot (the
// parse is paid once per process: the sandbox keeps an image of the guest's memory after it).
// Each advance restores that image into a new context and calls __boot(initJson), or restores the
// image of the instance's own blocked program and calls resume(delta).
  globalThis.__boot = function (initText) {
    delete globalThis.__boot;
    const hostCall = globalThis.__host;
    delete globalThis.__host;
    // Every field of init is read here, before tenant code runs (rows and events are arrays and
    // objects whose fields the host always sets, so reading them later finds own properties).
    const init = JSONParse(initText);

    let NOW = init.now; // a resume from a snapshot (resume.js) moves it to the new advance's
    const MAX_OUTPUT = init.maxOutput;
    const MEMORY_MIB = init.memoryMiB;
    const FLUSH_EVERY = init.flushEvery;
    const MAX_LOGS = init.maxLogs;
    const MAX_LOG_BYTES = init.maxLogBytes;
    const TIME_LIMIT_MS = init.timeLimitMs;
    const TRACE = init.trace === true;
    const MAX_STEPS = typeof init.maxSteps === "number" ? init.maxSteps : 25000;
    const CONCURRENT_CAPS = init.concurrentCapabilities || []; // one-off evaluations pass none
    // The safe-deploy check (engine/deploycheck.py): replay the record against another program and
    // run nothing: no step function, no new step, no capability.
    const CHECK = init.check === true;
    let OUTPUTS = init.outputs; // dropped by forget() (resume.js), with the rows
    let clock = init.clock;
    const SEP = "\u0000";
    // In its rollback phase the instance runs no new work: the program is replayed only to find
    // its rollback handlers (rollback.js); a step, sleep or wait that has no final record blocks.
    const UNDO = init.undo === true;
    // Whether this context's state is the one a replay would rebuild (resume.js reads them).
    let opened = 0; // durable operations (do, sleep, wait) called and not yet settled
    let overlapped = false; // one was called while another was open: the replay may order them otherwise
    let drift = false; // a step settled at NOW (a replay settles it at its stored finish time)
    let tainted = false; // the program saw what a replay shows otherwise (the clock under drift, a log or capability call outside a step)

    globalThis.NonRetryableError = NonRetryableError;

    // ---- determinism: determinism.js is spliced in here (runtime.py) ----
    /* determinism.js */

    // ---- values: results.js is spliced in here (runtime.py) ----
    /* results.js */

    // ---- commands and the host -------------------------------------------------------------
    let records = new SafeMap();
    // Outputs come in their own array: the host splices the stored JSON texts in without decoding.
    // The map holds row indexes; a row becomes an object only when a step needs more than a replay.
    let rows = init.records;
    const RECORDED = rows.length; // steps the instance had when this context booted
    for (let i = 0; i < rows.length; i++) MapSet(records, rows[i][0] + SEP + rows[i][1], i);
    // ---- the record's order: order.js is spliced in here (runtime.py) ----
    /* order.js */

    function row(i) {
      const r = rows[i];
      return { __proto__: null, kind: r[2], status: r[3], attempts: r[4], wake: r[5], done: r[6], out: OUTPUTS[i], err: r[7] };
    }
    let inbox = init.inbox; // [{id, type, payload, timestamp}], oldest first, none consumed yet
    let commands = list();
    const inflight = { __proto__: null }; // key -> [name, occurrence, attempt, config]
    let timers = list();
    const waitTypes = { __proto__: null }; // event types the program is blocked on
    let dirty = false; // a host capability ran since the last flush
    let halted = false; // the host said stop: pause, terminate or a lost lease
    let logCount = 0;
    let logBytes = 0;
    let current = null; // the step whose function is running synchronously, for log lines
    let currentKey = null; // and its key, which a capability call names as its caller
    // Capability calls the host runs while the program goes on (its reply was `pending: id`):
    // id -> [resolve, reject], settled by the host through settle() below.
    const calls = { __proto__: null };
    const PromiseThenCall = uncurry(PromiseThen);
    let capCalls = 0; // side-effect capability calls made so far (a step that saw one commits at once)
    const secrets = list(); // values step.secret returned: never a step's result
    // Whether a result's JSON text holds a secret (as JSON writes it, once or twice escaped).
    function holdsSecret(text) {
      for (let i = 0; i < secrets.length; i++) {
        const once = JSONStringify(secrets[i]);
        const twice = JSONStringify(StringSlice(once, 1, -1));
        if (StringIncludes(text, StringSlice(once, 1, -1)) || StringIncludes(text, StringSlice(twice, 1, -1))) return true;
      }
      return false;
    }

    function take() {
      const out = commands;
      commands = list();
      return out;
    }
    function flush(extra) {
      const message = { __proto__: null, cmds: take() };
      if (extra) for (const key in extra) message[key] = extra[key];
      let text = hostJson(message);
      if (marks.length) text = StringSlice(text, 0, -1) + ",\"marks\":" + marksJson() + "}";
      // Not re-made: a capability's result goes to the program as ordinary objects.
      const reply = JSONParse(hostCall(text));
      dirty = false;
      if (own(reply, "stop")) halted = true;
      return reply;
    }
    // The host notes its own wall time when an attempt begins and ends (the live view shows it at
    // once, and the rows committed later carry it); the program's clock stays logical. A begin is
    // told at once (one crossing); an end rides on the next crossing, which comes as the next step
    // begins, a batch commits or the program blocks: what runs between two steps is counted in the
    // first. In a burst of very fast steps the host answers `skip: n`: the next n steps make no
    // crossing and no mark (their rows take the time before them). Marks are written by hand.
    let marks = list();
    let skipMarks = 0;
    function marksJson() {
      let text = "";
      for (let i = 0; i < marks.length; i++) {
        const m = marks[i];
        text += (i ? "," : "") + "[\"" + m[0] + "\"," + JSONStringify(m[1]) + "," + m[2] + "," + m[3] + "]";
      }
      marks = list();
      return "[" + text + "]";
    }
    function mark(kind, name, occ, attempt) {
      const m = list();
      append(m, kind); append(m, name); append(m, occ); append(m, attempt);
      append(marks, m);
    }
    // Returns whether the attempt was marked (its end is marked too).
    function begun(name, occ, attempt) {
      if (skipMarks > 0) {
        skipMarks -= 1;
        marks = list();
        return false;
      }
      mark("start", name, occ, attempt);
      const reply = JSONParse(hostCall("{\"marks\":" + marksJson() + "}"));
      if (own(reply, "stop")) halted = true;
      const skip = own(reply, "skip");
      skipMarks = typeof skip === "number" && skip > 0 ? skip : 0;
      return true;
    }
    function ended(name, occ, attempt, marked) {
      if (marked) mark("end", name, occ, attempt);
    }
    // A step that used a capability ends: commit it in a microtask, which runs before the code
    // awaiting the step goes on, and after the other steps that ended in the same turn
    // (`Promise.all` over HTTP steps: one commit for all of them instead of one each).
    let flushScheduled = false;
    function flushSoon() {
      if (flushScheduled) return;
      flushScheduled = true;
      PromiseThenCall(PromiseResolve(), () => {
        flushScheduled = false;
        if (dirty && !halted) flush();
      });
    }
    function emit(cmd) {
      append(commands, cmd);
      if (commands.length >= FLUSH_EVERY) flush();
    }
    // A pending sleep, wait or retry: the program waits for `wake`. `again` decides it anew in a
    // later advance resumed from a snapshot, as a replay reaching it would (resume.js); without
    // it (a retry, a rollback's retry) the block can only be replayed.
    let blocked = list(); // [again, resolve, reject]
    let stuck = false;
    function block(wake, again) {
      append(timers, wake);
      if (again === undefined) {
        stuck = true;
        return never;
      }
      return new SafePromise((resolve, reject) => {
        const entry = list();
        append(entry, again); append(entry, resolve); append(entry, reject);
        append(blocked, entry);
      });
    }

    function keyOf(name, kind) {
      if (rolling !== null) throw new WorkflowError(`${kind} ${safeText(name)}: steps cannot run inside a rollback handler`, "ConfigError");
      if (typeof name !== "string" || name.length === 0 || name.length > 256 || StringIncludes(name, SEP) || matches(LONE_SURROGATE, name)) {
        throw new WorkflowError(`${kind} name must be a non-empty string of at most 256 characters`, "ConfigError");
      }
      const occ = occurrenceOf(name) + 1;
      MapSet(occurrences, name, occ);
      const key = name + SEP + occ;
      const index = MapGet(records, key);
      if (index !== undefined) reach(index);
      if (index === undefined) {
        // The plan's steps per instance (the host refuses a step past it too).
        if (RECORDED + newSteps >= MAX_STEPS) {
          throw new WorkflowError(`${kind} ${name}: this instance already has ${MAX_STEPS} steps, the plan's limit`, "StepLimitError");
        }
        newSteps += 1;
      }
      if (index !== undefined && rows[index][2] !== kind) {
        throw new WorkflowError(
          `step ${name} (occurrence ${occ}) was a ${rows[index][2]} when this instance ran before and is a ${kind} now: the program is not deterministic`,
          "NonDeterminismError");
      }
      return [occ, key, index];
    }
    let occurrences = new SafeMap(); // step name -> the highest occurrence called (forget() empties it)
    let forgotten = false; // forget() dropped the record: a name not in `occurrences` is asked of the host
    function occurrenceOf(name) {
      const o = MapGet(occurrences, name);
      return o !== undefined ? o : forgotten ? askOccurrence(name) : 0;
    }
    let newSteps = 0; // steps this context added since it booted

    // ---- step.do ---------------------------------------------------------------------------
    // Not async: a replayed step resolves in one microtask, which is most of the cost of resuming
    // an instance with thousands of checkpoints.
    // step.do(name, [config], fn, [{ rollback, rollbackConfig }]).
    function doStep(name, config, fn, options) {
      if (typeof config === "function") { options = fn; fn = config; config = undefined; }
      if (opened > 0) overlapped = true;
      opened += 1;
      if (rolling !== null) return PromiseReject(new WorkflowError(`do ${safeText(name)}: steps cannot run inside a rollback handler`, "ConfigError"));
      // Fast path: a replayed, completed step (no validation needed: it was valid when it ran).
      if (typeof name === "string" && !forgotten) {
        const o = (MapGet(occurrences, name) || 0) + 1;
        const k = name + SEP + o;
        const i = MapGet(records, k);
        if (i !== undefined && rows[i][2] === "do" && rows[i][3] === "complete" && typeof fn === "function") {
          MapSet(occurrences, name, o);
          reach(i);
          settle(rows[i][6], k);
          if (options !== undefined) MapSet(handlers, k, options); // read only if the instance rolls back
          return PromiseResolve(OUTPUTS[i]);
        }
      }
      let occ, key, index, undo;
      try {
        const k = keyOf(name, "do");
        occ = k[0]; key = k[1]; index = k[2];
        if (typeof fn !== "function") throw new WorkflowError(`step ${name}: step.do needs a function`, "ConfigError");
        undo = rollbackOptions(name, options);
      } catch (err) {
        return PromiseReject(err);
      }
      if (undo !== null) MapSet(handlers, key, options);
      if (index !== undefined) {
        const r = rows[index]; // [name, occ, kind, status, attempts, wake, done, error]
        if (r[3] === "complete") { settle(r[6], key); return PromiseResolve(OUTPUTS[index]); }
        if (r[3] === "errored") { settle(r[6], key); return PromiseReject(toError(r[7])); }
      }
      if (idle()) return never;
      return runStep(name, config, fn, occ, key, index === undefined ? undefined : row(index), undo);
    }
    async function runStep(name, config, fn, occ, key, rec, undo) {
      const cfg = stepConfig(`step ${name}`, config);
      if (rec && CHECK) return never; // an unfinished recorded step: the check runs nothing
      if (!rec) {
        if (outside(name)) return never; // parked: outside a partial test run's scope
        const wait = gate(name, occ, "do");
        if (wait !== null) await wait;
      }
      let attempt = 0;
      if (rec) {
        attempt = rec.attempts;
        if (rec.status === "running") {
          // The worker running this attempt died before it finished: that attempt failed.
          const lost = rec.err || { __proto__: null, name: "WorkerLostError", message: `the worker running attempt ${attempt} of step ${name} stopped before it finished` };
          let wake = failedAttempt(false, name, occ, key, attempt, cfg, lost, false);
          if (wake !== null && typeof wake === "object") wake = await wake;
          if (halted) return never;
          if (wake === null) throw toError(finalErrors[key]);
          if (wake > NOW) return block(wake);
        } else if (rec.wake > NOW) {
          return block(rec.wake); // retrying, not yet due
        }
      }
      for (;;) {
        if (idle()) return never;
        attempt += 1;
        if (dirty) flush();
        let c;
        if (attempt === 1 && !rec) {
          c = wire(cfg);
          if (undo !== null) c.rollback = wire(undo.config);
        }
        emit({ __proto__: null, t: "start", s: name, o: occ, a: attempt, c });
        inflight[key] = [name, occ, attempt, cfg, false, false];
        // A timeout shorter than the advance's time limit needs a deadline of its own in the host
        // (two crossings); longer ones are enforced by the advance's limit at no cost.
        const timed = cfg.timeout < TIME_LIMIT_MS;
        let marked = true;
        if (timed || TRACE) {
          mark("start", name, occ, attempt);
          flush(timed ? { __proto__: null, deadline: [key, cfg.timeout] } : undefined);
        } else marked = begun(name, occ, attempt);
        let text;
        let over = false;
        const capsBefore = capCalls;
        try {
          current = name;
          currentKey = key;
          let pending;
          try { pending = fn(stepContext(name, occ, attempt, cfg)); } finally { current = null; currentKey = null; }
          const value = await pending;
          over = true;
          ended(name, occ, attempt, marked);
          if (timed) flush({ __proto__: null, clear: key });
          text = toJson(value, `the result of step ${name}`);
          if (secrets.length && holdsSecret(text)) {
            // A checkpoint is stored (redacted) and replayed: the real value would be seen only once.
            throw new WorkflowError(`the result of step ${name} holds a secret: read secrets where they are used, inside the step`, "SecretInResultError");
          }
        } catch (err) {
          // First, before anything allocates: was this memory exhaustion (and free its garbage)?
          const exhausted = err === null && memoryQuery();
          if (!over) {
            ended(name, occ, attempt, marked);
            if (timed) flush({ __proto__: null, clear: key });
          }
          delete inflight[key];
          // A capability call made while this step ran (by it, or by a step beside it): commit now.
          if (capCalls !== capsBefore) dirty = true;
          const info = exhausted ? memoryError() : err === null ? { __proto__: null, name: "Error", message: "null" } : errorInfo(err);
          if (info.name === "MemoryLimitError") info.message += ` in step ${name}`;
          let wake = failedAttempt(false, name, occ, key, attempt, cfg, info, isPrototypeOfSafe(NonRetryableError.prototype, err));
          if (wake !== null && typeof wake === "object") wake = await wake; // a delay function's promise
          if (halted) return never;
          if (wake === null) throw toError(finalErrors[key]);
          // Replayed only: a replay runs the next attempt inside the program's call of step.do,
          // so the attempt's error would carry other stack frames if it were resumed.
          if (wake > NOW) return block(wake);
          continue; // no delay: the next attempt runs now
        }
        delete inflight[key];
        if (halted) return never;
        if (capCalls !== capsBefore) dirty = true;
        emit({ __proto__: null, t: "ok", s: name, o: occ, a: attempt, v: text });
        if (dirty) flushSoon();
        settleNow(key);
        return JSONParse(text);
      }
    }
    function isPrototypeOfSafe(proto, value) {
      return protoIs(proto, value);
    }
    // ---- failed attempts: failures.js is spliced in here (runtime.py) ----
    /* failures.js */

    // ---- rollbacks: rollback.js is spliced in here (runtime.py) ----
    /* rollback.js */

    // ---- sleeps and waits: sleeps.js is spliced in here (runtime.py) ----
    /* sleeps.js */

    // ---- logs: logs.js is spliced in here (runtime.py) ----
    /* logs.js */

    // ---- resuming from a snapshot: resume.js is spliced in here (runtime.py) ----
    /* resume.js */

    // ---- the step object and the run -------------------------------------------------------
    const step = { do: doStep, sleep, sleepUntil: sleepUntilDate, waitForEvent };
    const caps = init.capabilities;
    // Calls of CONCURRENT capabilities wait here until the program's synchronous code is done (a
    // microtask), then go to the host together, with the commands before them, in one message:
    // one commit, then the host starts them all ([name, args text, calling step, resolve, reject]).
    let queued = list();
    function sendCalls() {
      const batch = queued;
      queued = list();
      if (halted || batch.length === 0) return;
      const items = list();
      for (let i = 0; i < batch.length; i++) {
        const entry = list();
        append(entry, batch[i][0]); append(entry, batch[i][1]); append(entry, batch[i][2]);
        append(items, entry);
      }
      let answers;
      try {
        answers = own(flush({ __proto__: null, calls: items }), "calls");
      } catch (err) {
        for (let i = 0; i < batch.length; i++) batch[i][4](err);
        return;
      }
      dirty = true; // side effects are under way: the steps that caused them commit as they end
      for (let i = 0; i < batch.length; i++) {
        const answer = own(answers, i);
        if (answer === undefined) continue; // the host said stop: the step never ends here
        const id = own(answer, "pending");
        if (typeof id === "number") { calls[id] = [batch[i][3], batch[i][4]]; continue; }
        const error = answerError(answer);
        if (error) batch[i][4](error);
        else batch[i][3](own(answer, "result"));
      }
    }
    for (let c = 0; c < caps.length; c++) {
      const cap = caps[c];
      let pure = false, concurrent = false;
      for (let p = 0; p < init.pureCapabilities.length; p++) if (init.pureCapabilities[p] === cap) pure = true;
      for (let p = 0; p < CONCURRENT_CAPS.length; p++) if (CONCURRENT_CAPS[p] === cap) concurrent = true;
      step[cap] = (args) => {
        if (halted || (UNDO && rolling === null)) return never; // rolling back: only handlers act
        if (outsideSteps()) tainted = true; // a replay makes this call again
        if (concurrent) {
          let text;
          try {
            text = args === undefined ? "null" : JSONStringify(args);
          } catch (err) {
            return PromiseReject(err);
          }
          capCalls += 1;
          const from = currentKey;
          return new SafePromise((resolve, reject) => {
            if (queued.length === 0) PromiseThenCall(PromiseResolve(), sendCalls);
            const entry = list();
            append(entry, cap); append(entry, typeof text === "string" ? text : "null"); append(entry, from);
            append(entry, resolve); append(entry, reject);
            append(queued, entry);
          });
        }
        let reply;
        try {
          // Arguments are the program's: serialized here, in its realm (its toJSON is its own).
          const text = args === undefined ? "null" : JSONStringify(args);
          const message = { __proto__: null, cap: [cap, typeof text === "string" ? text : "null"] };
          if (currentKey !== null) message.from = currentKey;
          reply = flush(message);
        } catch (err) {
          return PromiseReject(err);
        }
        if (!pure) {
          dirty = true; // a side effect: the step that caused it commits before the next starts
          capCalls += 1;
        }
        const id = own(reply, "pending");
        if (typeof id === "number") {
          // The host runs it while the program goes on (calls started together overlap).
          return new SafePromise((resolve, reject) => { calls[id] = [resolve, reject]; });
        }
        const error = answerError(reply);
        return error ? PromiseReject(error) : PromiseResolve(own(reply, "result"));
      };
    }
    // A capability's reply: its error as a thrown value, or null (the result is `reply.result`).
    function answerError(reply) {
      const error = own(reply, "error");
      if (own(reply, "secret") === true && typeof own(reply, "result") === "string") append(secrets, own(reply, "result"));
      return error ? toError(error) : null;
    }
    ObjectFreeze(step);

    let outcome = null;
    let failure = null; // run() threw: no new work starts (its rollbacks may run next)
    // Whether new work must wait: the host said stop, the program failed, or it is rolling back.
    function idle() {
      return halted || failure !== null || UNDO;
    }
    const event = { payload: init.params, timestamp: init.created, instanceId: init.instanceId };
    async function main(run) {
      // The program starts in the job queue, not inside start.js's evaluation: by then the host
      // holds the runtime's entry points, so a limit hit in a first, synchronous step is recorded.
      await null;
      let value;
      try {
        value = await run(event, step);
      } catch (err) {
        failure = true;
        outcome = { __proto__: null, error: errorInfo(err) };
        return;
      }
      try {
        outcome = { __proto__: null, output: toJson(value, "the workflow's return value") };
      } catch (err) {
        outcome = { __proto__: null, error: errorInfo(err) };
      }
    }
    // The engine's entry points, handed to the host's own module (runtime.py), never to a global.
    let started = false;
    function start(run) {
      if (started) return;
      started = true;
      if (typeof run !== "function") {
        outcome = { __proto__: null, error: { __proto__: null, name: "ProgramError", message: "the program has no default export function run(event, step)" } };
        return;
      }
      main(run);
    }
    return ObjectFreeze({
      __proto__: null,
      start,
      // The advance was cut short (time or memory): every attempt in flight failed with `info`.
      // `expired`: keys of steps whose own timeout passed (the others in flight were cut short too).
      interrupted(infoText, expiredText) {
        cut = true;
        const info = plain(JSONParse(infoText));
        const expired = plain(JSONParse(expiredText));
        const keys = list();
        for (const key in inflight) append(keys, key);
        for (let i = 0; i < keys.length; i++) {
          // [name, occurrence, attempt, config, a rollback's attempt, its delay function running]
          const entry = inflight[keys[i]];
          const name = entry[0], occ = entry[1], attempt = entry[2], cfg = entry[3], undoing = entry[4];
          const what = undoing ? `the rollback of step ${name}` : `step ${name}`;
          let timedOut = false;
          for (let j = 0; j < expired.length; j++) if (expired[j] === keys[i]) timedOut = true;
          delete inflight[keys[i]];
          if (entry[5]) {
            // Cut short while its delay function ran: that function did not return in time.
            failed(undoing, name, occ, undoing ? StringSlice(keys[i], 0, -9) : keys[i], attempt, cfg, delayError(what, `did not return within ${DELAY_FUNCTION_MS / 1000} s`, entry[6]), true);
            continue;
          }
          const error = timedOut
            ? { __proto__: null, name: "TimeoutError", message: `${what}: exceeded its timeout of ${cfg.timeout / 1000} s` }
            : { __proto__: null, name: info.name, message: `${what}: ${info.message}` };
          failed(undoing, name, occ, undoing ? StringSlice(keys[i], 0, -9) : keys[i], attempt, cfg, error, false);
        }
        return keys.length;
      },
      // The host starts the rollback phase (after finish() reported the program's end, or in a
      // replay of an instance already rolling back); it drains the job queue, then calls finish().
      rollback(planText) {
        timers = list(); // only a rollback's retry is waited for from here on
        for (const type in waitTypes) delete waitTypes[type];
        rollBack(plain(JSONParse(planText)));
      },
      // A capability call the host ran while the program went on has ended: its reply (JSON text).
      settle(id, replyText) {
        const entry = calls[id];
        if (entry === undefined) return false;
        delete calls[id];
        const reply = JSONParse(replyText);
        if (own(reply, "stop")) halted = true;
        const error = answerError(reply);
        if (error) entry[1](error);
        else entry[0](own(reply, "result"));
        return true;
      },
      resume: resumeBlocked,
      forget,
      finish() {
        if (!started && outcome === null) {
          // The program's module threw at its top level (module evaluation swallows the error), or
          // its top-level await never settled: start() was never reached.
          outcome = { __proto__: null, error: memoryQuery() ? memoryError()
            : { __proto__: null, name: "ProgramError", message: "the program's module did not finish evaluating: it threw, or awaits forever, at its top level" } };
        }
        let wake = null;
        for (let i = 0; i < timers.length; i++) if (wake === null || timers[i] < wake) wake = timers[i];
        const types = list();
        for (const type in waitTypes) append(types, type);
        const message = { __proto__: null, cmds: take(), outcome, wake, waitTypes: types, halted };
        const diverged = divergence();
        if (diverged !== null) message.diverged = diverged;
        if (resumable()) message.resumable = true;
        const text = hostJson(message);
        return marks.length ? StringSlice(text, 0, -1) + ",\"marks\":" + marksJson() + "}" : text;
      },
    });
  };
