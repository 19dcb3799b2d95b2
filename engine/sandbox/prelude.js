// The step API, evaluated in every fresh sandbox context before the tenant's program.
//
// This is the engine's deterministic core: checkpoints and the inbox come in (one JSON string),
// commands go out (JSON strings, declared in protocol.py beside this file). Invariants:
// - A step with a final checkpoint (complete or errored) is never run: its stored result is
//   returned, or its stored error thrown.
// - Only the current advance's clock (init.now) decides whether a sleep, a retry or a wait is due;
//   the program sees a logical clock (Date.now) that moves only at durable points, and a random
//   generator reseeded at each durable point, so a replay takes the path the first run took.
// - Commands are buffered and sent in batches (each crossing of the host boundary costs about a
//   millisecond); the buffer is flushed before a host capability runs and right after a step that
//   used one completes (in a microtask, before the code awaiting it goes on), so such a step is
//   committed before the next one starts. Calls of concurrent capabilities (step.http) made in one
//   turn go to the host together and their results come back later (settle), so they overlap.
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
// Each advance restores that image into a new context and calls __boot(initJson).
  globalThis.__boot = function (initText) {
    delete globalThis.__boot;
    const hostCall = globalThis.__host;
    delete globalThis.__host;
    // Every field of init is read here, before tenant code runs (rows and events are arrays and
    // objects whose fields the host always sets, so reading them later finds own properties).
    const init = JSONParse(initText);

    const NOW = init.now;
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
    const OUTPUTS = init.outputs;
    let clock = init.clock;
    const SEP = "\u0000";
    const DAY = 86400000;
    const UNITS = {
      __proto__: null,
      millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY,
    };
    const DEFAULTS = { limit: 5, delay: 10000, backoff: "exponential", timeout: 600000 };

    class NonRetryableError extends SafeError {
      constructor(message, name) {
        super(message);
        ObjectDefineProperty(this, "name", { value: name || "NonRetryableError", writable: true, configurable: true });
      }
    }
    class WorkflowError extends NonRetryableError {}
    globalThis.NonRetryableError = NonRetryableError;

    // ---- determinism -----------------------------------------------------------------------
    let rngState = [0, 0, 0, 0];
    // cyrb128 over (seed + text), resumed from the seed's state so each reseed hashes only `text`.
    function hashFrom(h, text) {
      let h1 = h[0], h2 = h[1], h3 = h[2], h4 = h[3];
      for (let i = 0; i < text.length; i++) {
        const k = StringCharCodeAt(text, i);
        h1 = h2 ^ MathImul(h1 ^ k, 597399067);
        h2 = h3 ^ MathImul(h2 ^ k, 2869860233);
        h3 = h4 ^ MathImul(h3 ^ k, 951274213);
        h4 = h1 ^ MathImul(h4 ^ k, 2716044179);
      }
      return [h1, h2, h3, h4];
    }
    const seedHash = hashFrom([1779033703, 3144134277, 1013904242, 2773480762], init.seed);
    function reseed(text) {
      const h = hashFrom(seedHash, text);
      let h1 = h[0], h2 = h[1], h3 = h[2], h4 = h[3];
      h1 = MathImul(h3 ^ (h1 >>> 18), 597399067);
      h2 = MathImul(h4 ^ (h2 >>> 22), 2869860233);
      h3 = MathImul(h1 ^ (h3 >>> 17), 951274213);
      h4 = MathImul(h2 ^ (h4 >>> 19), 2716044179);
      rngState = [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
    }
    let reseedWith = null; // reseeding is lazy: most durable points are never followed by random()
    function random() {
      if (reseedWith !== null) {
        reseed(reseedWith);
        reseedWith = null;
      }
      let a = rngState[0], b = rngState[1], c = rngState[2], d = rngState[3];
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) >>> 0;
      c = ((c << 21) | (c >>> 11)) >>> 0;
      c = (c + t) >>> 0;
      rngState = [a >>> 0, b, c, d];
      return t / 4294967296;
    }
    reseed("");
    Math.random = random;
    function FixedDate(...args) {
      if (!new.target) return new RealDate(clock).toString();
      return args.length === 0 ? new RealDate(clock) : construct(args);
    }
    function construct(args) {
      switch (args.length) {
        case 1: return new RealDate(args[0]);
        case 2: return new RealDate(args[0], args[1]);
        case 3: return new RealDate(args[0], args[1], args[2]);
        case 4: return new RealDate(args[0], args[1], args[2], args[3]);
        case 5: return new RealDate(args[0], args[1], args[2], args[3], args[4]);
        case 6: return new RealDate(args[0], args[1], args[2], args[3], args[4], args[5]);
        default: return new RealDate(args[0], args[1], args[2], args[3], args[4], args[5], args[6]);
      }
    }
    FixedDate.prototype = DatePrototype;
    FixedDate.now = () => clock;
    FixedDate.parse = DateParse;
    FixedDate.UTC = DateUTC;
    globalThis.Date = FixedDate;
    const clockStart = init.clock;
    globalThis.performance = { now: () => clock - clockStart };
    // Garbage collection timing is not deterministic.
    delete globalThis.WeakRef;
    delete globalThis.FinalizationRegistry;

    function settle(at, key) {
      if (at > clock) clock = at;
      reseedWith = key;
    }

    // ---- values ----------------------------------------------------------------------------
    function utf8Length(s) {
      if (s.length * 3 <= MAX_OUTPUT) return s.length; // cannot be over the limit
      return unescapeText(encodeURI(s)).length;
    }
    // Whether a thrown `null` was memory exhaustion. Only the host can tell (it sees the guest's
    // memory high-water mark). The question is a constant made before the heap filled.
    function memoryQuery() {
      const reply = JSONParse(hostCall(MEMORY_QUERY));
      if (own(reply, "stop")) halted = true;
      return own(reply, "oom") === true;
    }
    function memoryError() {
      return { __proto__: null, name: "MemoryLimitError", message: `exceeded the memory limit of ${MEMORY_MIB} MiB` };
    }
    // What the runtime reports of a thrown value; reads it defensively (getters, Proxies).
    // QuickJS throws `null` where it cannot even allocate the error: the host decides whether a
    // `null` was memory exhaustion.
    function errorInfo(err) {
      if (err === null) return memoryQuery() ? memoryError() : { __proto__: null, name: "Error", message: "null" };
      if (protoIs(InternalErrorPrototype, err) || protoIs(RangeErrorPrototype, err)) {
        const message = field(err, "message");
        if (typeof message === "string" && matches(OUT_OF_MEMORY, message)) return memoryError();
      }
      if (isErrorLike(err)) {
        const name = field(err, "name");
        const info = {
          __proto__: null,
          name: StringSlice(name === undefined || name === null || name === "" ? "Error" : safeText(name), 0, 128),
          message: StringSlice(safeText(field(err, "message")), 0, 4096),
        };
        // Where it was thrown, for the live view's inspection (frames only: QuickJS's stack has no values).
        const stack = field(err, "stack");
        if (typeof stack === "string") {
          // By hand: String.prototype.split looks up a patchable Symbol.split.
          let frames = "";
          for (let from = 0; from < stack.length;) {
            let end = StringIndexOf(stack, "\n", from);
            if (end < 0) end = stack.length;
            const line = StringSlice(stack, from, end);
            if (StringIncludes(line, "(program:")) frames = frames ? frames + "\n" + line : line;
            from = end + 1;
          }
          if (frames) info.stack = StringSlice(frames, 0, 4096);
        }
        return info;
      }
      let message;
      try {
        message = typeof err === "string" ? err : JSONStringify(err);
      } catch (e) {
        message = safeText(err);
      }
      return { __proto__: null, name: "Error", message: StringSlice(safeText(message), 0, 4096) };
    }
    function toError(info) {
      const e = info.name === "NonRetryableError" ? new NonRetryableError(info.message) : new SafeError(info.message);
      ObjectDefineProperty(e, "name", { value: info.name, writable: true, configurable: true });
      // A step's error re-thrown into run(): its stack is on the step's record, not here.
      ObjectDefineProperty(e, "stack", { value: "", writable: true, configurable: true });
      return e;
    }
    // Returns the JSON text of a result, or throws a WorkflowError naming what is wrong.
    function toJson(value, what) {
      let text;
      try {
        text = value === undefined ? "null" : JSONStringify(value);
      } catch (e) {
        if (e === null || (protoIs(InternalErrorPrototype, e) && matches(OUT_OF_MEMORY, safeText(field(e, "message"))))) throw e;
        throw new WorkflowError(`${what} is not JSON-serializable: ${safeText(field(e, "message"))}`, "ResultError");
      }
      if (typeof text !== "string") throw new WorkflowError(`${what} is not JSON-serializable (${typeof value})`, "ResultError");
      const size = utf8Length(text);
      if (size > MAX_OUTPUT) {
        throw new WorkflowError(`${what} is ${size} bytes of JSON, over the ${MAX_OUTPUT} byte limit`, "ResultError");
      }
      return text;
    }

    // ---- durations and config --------------------------------------------------------------
    function duration(value, what) {
      let ms;
      if (typeof value === "number") ms = value;
      else if (typeof value === "string") {
        const m = RegExpExec(DURATION, value);
        const unit = m && UNITS[StringToLowerCase(m[2])];
        if (!unit) throw new WorkflowError(`${what}: cannot read duration ${JSONStringify(value)} (e.g. "90 seconds", "1 day")`, "ConfigError");
        ms = SafeNumber(m[1]) * unit;
      } else throw new WorkflowError(`${what}: a duration must be a string like "10 seconds" or milliseconds`, "ConfigError");
      if (!NumberIsFinite(ms) || ms < 0) throw new WorkflowError(`${what}: duration must be zero or more`, "ConfigError");
      if (ms > 365 * DAY) throw new WorkflowError(`${what}: duration is over 365 days`, "ConfigError");
      return MathRound(ms);
    }
    function stepConfig(name, config) {
      if (config === undefined || config === null) config = { __proto__: null };
      if (typeof config !== "object") throw new WorkflowError(`step ${name}: config must be an object`, "ConfigError");
      const r = config.retries || { __proto__: null };
      const limit = r.limit === undefined ? DEFAULTS.limit : r.limit;
      if (!NumberIsInteger(limit) || limit < 0 || limit > 1000) {
        throw new WorkflowError(`step ${name}: retries.limit must be an integer from 0 to 1000`, "ConfigError");
      }
      const backoff = r.backoff === undefined ? DEFAULTS.backoff : r.backoff;
      if (backoff !== "constant" && backoff !== "linear" && backoff !== "exponential") {
        throw new WorkflowError(`step ${name}: retries.backoff must be constant, linear or exponential`, "ConfigError");
      }
      const delay = r.delay === undefined ? DEFAULTS.delay : duration(r.delay, `step ${name}: retries.delay`);
      const timeout = config.timeout === undefined ? DEFAULTS.timeout : duration(config.timeout, `step ${name}: timeout`);
      return { __proto__: null, retries: { __proto__: null, limit, delay, backoff }, timeout };
    }
    function retryDelay(config, attempt) {
      const delay = config.retries.delay, backoff = config.retries.backoff;
      const ms = backoff === "constant" ? delay : backoff === "linear" ? delay * attempt : delay * 2 ** (attempt - 1);
      return MathMin(ms, 365 * DAY);
    }

    // ---- commands and the host -------------------------------------------------------------
    const records = new SafeMap();
    // Outputs come in their own array: the host splices the stored JSON texts in without decoding.
    // The map holds row indexes; a row becomes an object only when a step needs more than a replay.
    const rows = init.records;
    for (let i = 0; i < rows.length; i++) MapSet(records, rows[i][0] + SEP + rows[i][1], i);
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
    const reached = list();
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
    function row(i) {
      const r = rows[i];
      return { __proto__: null, kind: r[2], status: r[3], attempts: r[4], wake: r[5], done: r[6], out: OUTPUTS[i], err: r[7] };
    }
    const inbox = init.inbox; // [{id, type, payload, timestamp}], oldest first, none consumed yet
    let commands = list();
    const inflight = { __proto__: null }; // key -> [name, occurrence, attempt, config]
    let inflightCount = 0;
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
    function block(wake) {
      append(timers, wake);
      return never;
    }
    function keyOf(name, kind) {
      if (typeof name !== "string" || name.length === 0 || name.length > 256 || StringIncludes(name, SEP) || matches(LONE_SURROGATE, name)) {
        throw new WorkflowError(`${kind} name must be a non-empty string of at most 256 characters`, "ConfigError");
      }
      const occ = (MapGet(occurrences, name) || 0) + 1;
      MapSet(occurrences, name, occ);
      const key = name + SEP + occ;
      const index = MapGet(records, key);
      if (index !== undefined) reach(index);
      if (index === undefined) {
        // The plan's steps per instance (the host refuses a step past it too).
        if (rows.length + newSteps >= MAX_STEPS) {
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
    const occurrences = new SafeMap();
    let newSteps = 0; // steps this advance added

    // ---- step.do ---------------------------------------------------------------------------
    // Not async: a replayed step resolves in one microtask, which is most of the cost of resuming
    // an instance with thousands of checkpoints.
    function doStep(name, config, fn) {
      if (typeof config === "function") { fn = config; config = undefined; }
      // Fast path: a replayed, completed step (no validation needed: it was valid when it ran).
      if (typeof name === "string") {
        const o = (MapGet(occurrences, name) || 0) + 1;
        const k = name + SEP + o;
        const i = MapGet(records, k);
        if (i !== undefined && rows[i][2] === "do" && rows[i][3] === "complete" && typeof fn === "function") {
          MapSet(occurrences, name, o);
          reach(i);
          settle(rows[i][6], k);
          return PromiseResolve(OUTPUTS[i]);
        }
      }
      let occ, key, index;
      try {
        const k = keyOf(name, "do");
        occ = k[0]; key = k[1]; index = k[2];
        if (typeof fn !== "function") throw new WorkflowError(`step ${name}: step.do needs a function`, "ConfigError");
      } catch (err) {
        return PromiseReject(err);
      }
      if (index !== undefined) {
        const r = rows[index]; // [name, occ, kind, status, attempts, wake, done, error]
        if (r[3] === "complete") { settle(r[6], key); return PromiseResolve(OUTPUTS[index]); }
        if (r[3] === "errored") { settle(r[6], key); return PromiseReject(toError(r[7])); }
      }
      return runStep(name, config, fn, occ, key, index === undefined ? undefined : row(index));
    }
    async function runStep(name, config, fn, occ, key, rec) {
      const cfg = stepConfig(name, config);
      if (rec && CHECK) return never; // an unfinished recorded step: the check runs nothing
      if (!rec) {
        const wait = gate(name, occ, "do");
        if (wait !== null) await wait;
      }
      let attempt = 0;
      if (rec) {
        attempt = rec.attempts;
        if (rec.status === "running") {
          // The worker running this attempt died before it finished: that attempt failed.
          const lost = rec.err || { __proto__: null, name: "WorkerLostError", message: `the worker running attempt ${attempt} of step ${name} stopped before it finished` };
          const wake = failed(name, occ, key, attempt, cfg, lost, false);
          if (wake === null) throw toError(lost);
          if (wake > NOW) return block(wake);
        } else if (rec.wake > NOW) {
          return block(rec.wake); // retrying, not yet due
        }
      }
      for (;;) {
        if (halted) return never;
        attempt += 1;
        if (dirty) flush();
        emit({ __proto__: null, t: "start", s: name, o: occ, a: attempt, c: attempt === 1 && !rec ? cfg : undefined });
        inflight[key] = [name, occ, attempt, cfg];
        inflightCount += 1;
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
          try { pending = fn({ attempt }); } finally { current = null; currentKey = null; }
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
          inflightCount -= 1;
          // A capability call made while this step ran (by it, or by a step beside it): commit now.
          if (capCalls !== capsBefore) dirty = true;
          const info = exhausted ? memoryError() : err === null ? { __proto__: null, name: "Error", message: "null" } : errorInfo(err);
          if (info.name === "MemoryLimitError") info.message += ` in step ${name}`;
          const wake = failed(name, occ, key, attempt, cfg, info, isPrototypeOfSafe(NonRetryableError.prototype, err));
          if (wake === null) throw toError(info);
          if (wake > NOW) return block(wake);
          continue; // no delay: the next attempt runs now
        }
        delete inflight[key];
        inflightCount -= 1;
        if (halted) return never;
        if (capCalls !== capsBefore) dirty = true;
        emit({ __proto__: null, t: "ok", s: name, o: occ, a: attempt, v: text });
        if (dirty) flushSoon();
        settle(NOW, key);
        return JSONParse(text);
      }
    }
    function isPrototypeOfSafe(proto, value) {
      return protoIs(proto, value);
    }
    // Records a failed attempt; returns when the next attempt is due, or null when the step failed.
    function failed(name, occ, key, attempt, cfg, info, final) {
      if (final || attempt > cfg.retries.limit) {
        emit({ __proto__: null, t: "fail", s: name, o: occ, a: attempt, e: info, final: true });
        if (dirty) flush();
        settle(NOW, key);
        return null;
      }
      const delay = retryDelay(cfg, attempt);
      emit({ __proto__: null, t: "fail", s: name, o: occ, a: attempt, e: info, delay, wake: NOW + delay });
      if (dirty) flush();
      return NOW + delay;
    }

    // ---- sleeps ----------------------------------------------------------------------------
    async function sleepUntil(name, wakeAt) {
      const k = keyOf(name, "sleep");
      const occ = k[0], key = k[1], index = k[2];
      const rec = index === undefined ? undefined : row(index);
      if (rec) {
        if (rec.status === "complete") { settle(rec.wake, key); return; }
        if (rec.wake > NOW) return block(rec.wake);
        emit({ __proto__: null, t: "slept", s: name, o: occ });
        settle(rec.wake, key);
        return;
      }
      const wait = gate(name, occ, "sleep");
      if (wait !== null) await wait;
      if (halted) return never;
      const wake = wakeAt();
      emit({ __proto__: null, t: "sleep", s: name, o: occ, wake });
      if (wake > NOW) return block(wake);
      emit({ __proto__: null, t: "slept", s: name, o: occ });
      settle(wake, key);
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
      const k = keyOf(name, "wait");
      const occ = k[0], key = k[1], index = k[2];
      const rec = index === undefined ? undefined : row(index);
      const type = options === null || options === undefined ? undefined : options.type;
      if (typeof type !== "string" || !type || type.length > 128) throw new WorkflowError(`waitForEvent ${name}: type is required (at most 128 characters)`, "ConfigError");
      let deadline;
      if (rec) {
        if (rec.status === "complete") { settle(rec.done, key); return rec.out; }
        if (rec.status === "errored") { settle(rec.done, key); throw toError(rec.err); }
        deadline = rec.wake;
      } else {
        const wait = gate(name, occ, "wait");
        if (wait !== null) await wait;
        if (halted) return never;
        const timeout = options.timeout;
        deadline = NOW + duration(timeout === undefined ? "24 hours" : timeout, `waitForEvent ${name}: timeout`);
        emit({ __proto__: null, t: "wait", s: name, o: occ, type, wake: deadline });
      }
      for (let i = 0; i < inbox.length; i++) {
        const event = inbox[i];
        if (event === null || event.type !== type) continue;
        inbox[i] = null; // consumed
        const text = encode({ __proto__: null, type: event.type, payload: event.payload, timestamp: event.timestamp });
        emit({ __proto__: null, t: "got", s: name, o: occ, ev: event.id, v: text });
        settle(NOW, key);
        return JSONParse(text);
      }
      if (deadline <= NOW) {
        const info = { __proto__: null, name: "WaitTimeoutError", message: `waitForEvent ${name}: no ${type} event arrived before the timeout` };
        emit({ __proto__: null, t: "timeout", s: name, o: occ, e: info });
        settle(NOW, key);
        throw toError(info);
      }
      waitTypes[type] = true;
      return block(deadline);
    }

    // ---- logs ------------------------------------------------------------------------------
    function logger(level) {
      return (...args) => {
        if (halted || logCount >= MAX_LOGS || logBytes >= MAX_LOG_BYTES) return;
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
        if (halted) return never;
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
    const event = { payload: init.params, timestamp: init.created, instanceId: init.instanceId };
    async function main(run) {
      // The program starts in the job queue, not inside start.js's evaluation: by then the host
      // holds the runtime's entry points, so a limit hit in a first, synchronous step is recorded.
      await null;
      let value;
      try {
        value = await run(event, step);
      } catch (err) {
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
          const entry = inflight[keys[i]];
          const name = entry[0], occ = entry[1], attempt = entry[2], cfg = entry[3];
          let timedOut = false;
          for (let j = 0; j < expired.length; j++) if (expired[j] === keys[i]) timedOut = true;
          const error = timedOut
            ? { __proto__: null, name: "TimeoutError", message: `step ${name}: exceeded its timeout of ${cfg.timeout / 1000} s` }
            : { __proto__: null, name: info.name, message: `step ${name}: ${info.message}` };
          delete inflight[keys[i]];
          failed(name, occ, keys[i], attempt, cfg, error, false);
        }
        inflightCount = 0;
        return keys.length;
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
        const text = hostJson(message);
        return marks.length ? StringSlice(text, 0, -1) + ",\"marks\":" + marksJson() + "}" : text;
      },
    });
  };
