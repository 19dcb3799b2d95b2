// The step API, evaluated in every fresh sandbox context before the tenant's program.
//
// This is the engine's deterministic core: checkpoints and the inbox come in (one JSON string),
// commands go out (JSON strings). Invariants:
// - A step with a final checkpoint (complete or errored) is never run: its stored result is
//   returned, or its stored error thrown.
// - Only the current advance's clock (init.now) decides whether a sleep, a retry or a wait is due;
//   the program sees a logical clock (Date.now) that moves only at durable points, and a random
//   generator reseeded at each durable point, so a replay takes the path the first run took.
// - Commands are buffered and sent in batches (each crossing of the host boundary costs about a
//   millisecond); the buffer is flushed before a host capability runs and right after a step that
//   used one completes, so such a step is committed before the next one starts.
//
// Evaluating this file only defines __boot (the parse is paid once per process: the sandbox
// keeps an image of the guest's memory after it). Each advance restores that image into a new
// context and calls __boot(initJson).
globalThis.__boot = function (initText) {
  "use strict";
  delete globalThis.__boot;
  const hostCall = globalThis.__host;
  delete globalThis.__host;
  // Captured before tenant code runs: a program that replaces JSON's methods only breaks itself.
  const parse = JSON.parse, stringify = JSON.stringify;
  const init = parse(initText);

  const NOW = init.now;
  let clock = init.clock;
  const SEP = "\u0000";
  const DAY = 86400000;
  const UNITS = {
    millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY,
  };
  const DEFAULT_CONFIG = { retries: { limit: 5, delay: 10000, backoff: "exponential" }, timeout: 600000 };

  class NonRetryableError extends Error {
    constructor(message, name) {
      super(message);
      this.name = name || "NonRetryableError";
    }
  }
  class WorkflowError extends NonRetryableError {}
  globalThis.NonRetryableError = NonRetryableError;

  // ---- determinism -------------------------------------------------------------------------
  let rngState = [0, 0, 0, 0];
  // cyrb128 over (seed + text), resumed from the seed's state so each reseed hashes only `text`.
  function hashFrom(h, text) {
    let [h1, h2, h3, h4] = h;
    for (let i = 0; i < text.length; i++) {
      const k = text.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    return [h1, h2, h3, h4];
  }
  const seedHash = hashFrom([1779033703, 3144134277, 1013904242, 2773480762], init.seed);
  function reseed(text) {
    let [h1, h2, h3, h4] = hashFrom(seedHash, text);
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    rngState = [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
  }
  let reseedWith = null; // reseeding is lazy: most durable points are never followed by random()
  function random() {
    if (reseedWith !== null) {
      reseed(reseedWith);
      reseedWith = null;
    }
    let [a, b, c, d] = rngState;
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
  const RealDate = Date;
  function FixedDate(...args) {
    if (!new.target) return new RealDate(clock).toString();
    return args.length === 0 ? new RealDate(clock) : new RealDate(...args);
  }
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = () => clock;
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  globalThis.Date = FixedDate;
  globalThis.performance = { now: () => clock - init.clock };
  // Garbage collection timing is not deterministic.
  delete globalThis.WeakRef;
  delete globalThis.FinalizationRegistry;

  function settle(at, key) {
    if (at > clock) clock = at;
    reseedWith = key;
  }

  // ---- values --------------------------------------------------------------------------------
  function utf8Length(s) {
    if (s.length * 3 <= init.maxOutput) return s.length; // cannot be over the limit
    return unescape(encodeURIComponent(s)).length;
  }
  function errorInfo(err) {
    if (err instanceof InternalError && /out of memory/.test(err.message)) {
      return { name: "MemoryLimitError", message: `exceeded the memory limit of ${init.memoryMiB} MiB` };
    }
    if (err instanceof Error) {
      const info = { name: String(err.name || "Error"), message: String(err.message).slice(0, 4096) };
      // Where it was thrown, for the live view's inspection (frames only: QuickJS's stack has no values).
      const frames = typeof err.stack === "string" ? err.stack.split("\n").filter((f) => f.includes("(program:")) : [];
      if (frames.length) info.stack = frames.join("\n").slice(0, 4096);
      return info;
    }
    let message;
    try { message = typeof err === "string" ? err : stringify(err); } catch (e) { message = String(err); }
    return { name: "Error", message: String(message).slice(0, 4096) };
  }
  function toError(info) {
    const e = info.name === "NonRetryableError" ? new NonRetryableError(info.message) : new Error(info.message);
    e.name = info.name;
    e.stack = "";  // a step's error re-thrown into run(): its stack is on the step's record, not here
    return e;
  }
  // Returns the JSON text of a result, or throws a WorkflowError naming what is wrong.
  function toJson(value, what) {
    let text;
    try {
      text = value === undefined ? "null" : stringify(value);
    } catch (e) {
      throw new WorkflowError(`${what} is not JSON-serializable: ${e.message}`, "ResultError");
    }
    if (text === undefined) throw new WorkflowError(`${what} is not JSON-serializable (${typeof value})`, "ResultError");
    const size = utf8Length(text);
    if (size > init.maxOutput) {
      throw new WorkflowError(`${what} is ${size} bytes of JSON, over the ${init.maxOutput} byte limit`, "ResultError");
    }
    return text;
  }

  // ---- durations and config ----------------------------------------------------------------
  function duration(value, what) {
    let ms;
    if (typeof value === "number") ms = value;
    else if (typeof value === "string") {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i.exec(value);
      const unit = m && UNITS[m[2].toLowerCase()];
      if (!unit) throw new WorkflowError(`${what}: cannot read duration ${stringify(value)} (e.g. "90 seconds", "1 day")`, "ConfigError");
      ms = Number(m[1]) * unit;
    } else throw new WorkflowError(`${what}: a duration must be a string like "10 seconds" or milliseconds`, "ConfigError");
    if (!Number.isFinite(ms) || ms < 0) throw new WorkflowError(`${what}: duration must be zero or more`, "ConfigError");
    if (ms > 365 * DAY) throw new WorkflowError(`${what}: duration is over 365 days`, "ConfigError");
    return Math.round(ms);
  }
  function stepConfig(name, config) {
    if (config === undefined || config === null) config = {};
    if (typeof config !== "object") throw new WorkflowError(`step ${name}: config must be an object`, "ConfigError");
    const r = config.retries || {};
    const limit = r.limit === undefined ? DEFAULT_CONFIG.retries.limit : r.limit;
    if (!Number.isInteger(limit) || limit < 0 || limit > 1000) {
      throw new WorkflowError(`step ${name}: retries.limit must be an integer from 0 to 1000`, "ConfigError");
    }
    const backoff = r.backoff === undefined ? DEFAULT_CONFIG.retries.backoff : r.backoff;
    if (!["constant", "linear", "exponential"].includes(backoff)) {
      throw new WorkflowError(`step ${name}: retries.backoff must be constant, linear or exponential`, "ConfigError");
    }
    const delay = r.delay === undefined ? DEFAULT_CONFIG.retries.delay : duration(r.delay, `step ${name}: retries.delay`);
    const timeout = config.timeout === undefined ? DEFAULT_CONFIG.timeout : duration(config.timeout, `step ${name}: timeout`);
    return { retries: { limit, delay, backoff }, timeout };
  }
  function retryDelay(config, attempt) {
    const { delay, backoff } = config.retries;
    const ms = backoff === "constant" ? delay : backoff === "linear" ? delay * attempt : delay * 2 ** (attempt - 1);
    return Math.min(ms, 365 * DAY);
  }

  // ---- commands and the host -----------------------------------------------------------------
  const records = new Map();
  // Outputs come in their own array: the host splices the stored JSON texts in without decoding.
  // The map holds row indexes; a row becomes an object only when a step needs more than a replay.
  const rows = init.records;
  for (let i = 0; i < rows.length; i++) records.set(rows[i][0] + SEP + rows[i][1], i);
  function row(i) {
    const [, , kind, status, attempts, wake, done, err] = rows[i];
    return { kind, status, attempts, wake, done, out: init.outputs[i], err };
  }
  const inbox = init.inbox; // [{id, type, payload, timestamp}], oldest first, none consumed yet
  const commands = [];
  const inflight = new Map(); // key -> [name, occurrence, attempt, config]
  const timers = [];
  const waitTypes = new Set(); // event types the program is blocked on
  const never = new Promise(() => {});
  let dirty = false; // a host capability ran since the last flush
  let halted = false; // the host said stop: pause, terminate or a lost lease
  let logCount = 0;
  let logBytes = 0;
  let current = null; // the step whose function is running synchronously, for log lines

  // Messages to the host are serialized without any toJSON a program put on the built-in
  // prototypes: tampering with them changes only the program's own results, never its commands.
  const PROTOS = [Object.prototype, Array.prototype, String.prototype, Number.prototype, Boolean.prototype];
  function hostJson(value) {
    const saved = [];
    for (const proto of PROTOS) {
      const d = Object.getOwnPropertyDescriptor(proto, "toJSON");
      if (d && d.configurable) { saved.push([proto, d]); delete proto.toJSON; }
    }
    try { return stringify(value); } finally { for (const [proto, d] of saved) Object.defineProperty(proto, "toJSON", d); }
  }

  function flush(extra) {
    const message = Object.assign({ cmds: commands.splice(0) }, extra);
    let text = hostJson(message);
    if (marks.length) text = text.slice(0, -1) + ",\"marks\":" + marksJson() + "}";
    const reply = parse(hostCall(text));
    dirty = false;
    if (reply.stop) halted = true;
    return reply;
  }
  // The host notes its own wall time when an attempt begins and ends (the live view shows it at
  // once, and the rows committed later carry it); the program's clock stays logical. A begin is
  // told at once (one crossing); an end rides on the next crossing, which comes as the next step
  // begins, a batch commits or the program blocks: what runs between two steps is counted in the
  // first. In a burst of very fast steps the host answers `skip: n`: the next n steps make no
  // crossing and no mark (their rows take the time before them). Marks are written without
  // prototype methods a program could have replaced.
  const marks = [];
  let skipMarks = 0;
  function marksJson() {
    let text = "";
    for (let i = 0; i < marks.length; i++) {
      const m = marks[i];
      text += (i ? "," : "") + "[\"" + m[0] + "\"," + stringify(m[1]) + "," + m[2] + "," + m[3] + "]";
    }
    marks.length = 0;
    return "[" + text + "]";
  }
  // Returns whether the attempt was marked (its end is marked too).
  function begun(name, occ, attempt) {
    if (skipMarks > 0) {
      skipMarks -= 1;
      marks.length = 0;
      return false;
    }
    marks[marks.length] = ["start", name, occ, attempt];
    const reply = parse(hostCall("{\"marks\":" + marksJson() + "}"));
    if (reply.stop) halted = true;
    skipMarks = reply.skip > 0 ? reply.skip : 0;
    return true;
  }
  function ended(name, occ, attempt, marked) {
    if (marked) marks[marks.length] = ["end", name, occ, attempt];
  }
  function emit(cmd) {
    commands.push(cmd);
    if (commands.length >= init.flushEvery) flush();
  }
  function block(wake) {
    timers.push(wake);
    return never;
  }
  function keyOf(name, kind) {
    if (typeof name !== "string" || name.length === 0 || name.length > 256 || name.includes(SEP)) {
      throw new WorkflowError(`${kind} name must be a non-empty string of at most 256 characters`, "ConfigError");
    }
    const occ = (occurrences.get(name) || 0) + 1;
    occurrences.set(name, occ);
    const key = name + SEP + occ;
    const index = records.get(key);
    if (index !== undefined && rows[index][2] !== kind) {
      throw new WorkflowError(
        `step ${name} (occurrence ${occ}) was a ${rows[index][2]} when this instance ran before and is a ${kind} now: the program is not deterministic`,
        "NonDeterminismError");
    }
    return [occ, key, index];
  }
  const occurrences = new Map();

  // ---- step.do -------------------------------------------------------------------------------
  // Not async: a replayed step resolves in one microtask, which is most of the cost of resuming
  // an instance with thousands of checkpoints.
  function doStep(name, config, fn) {
    if (typeof config === "function") { fn = config; config = undefined; }
    // Fast path: a replayed, completed step (no validation needed: it was valid when it ran).
    if (typeof name === "string") {
      const o = (occurrences.get(name) || 0) + 1;
      const k = name + SEP + o;
      const i = records.get(k);
      if (i !== undefined && rows[i][2] === "do" && rows[i][3] === "complete" && typeof fn === "function") {
        occurrences.set(name, o);
        settle(rows[i][6], k);
        return Promise.resolve(init.outputs[i]);
      }
    }
    let occ, key, index;
    try {
      [occ, key, index] = keyOf(name, "do");
      if (typeof fn !== "function") throw new WorkflowError(`step ${name}: step.do needs a function`, "ConfigError");
    } catch (err) {
      return Promise.reject(err);
    }
    if (index !== undefined) {
      const r = rows[index]; // [name, occ, kind, status, attempts, wake, done, error]
      if (r[3] === "complete") { settle(r[6], key); return Promise.resolve(init.outputs[index]); }
      if (r[3] === "errored") { settle(r[6], key); return Promise.reject(toError(r[7])); }
    }
    return runStep(name, config, fn, occ, key, index === undefined ? undefined : row(index));
  }
  async function runStep(name, config, fn, occ, key, rec) {
    const cfg = stepConfig(name, config);
    let attempt = 0;
    if (rec) {
      attempt = rec.attempts;
      if (rec.status === "running") {
        // The worker running this attempt died before it finished: that attempt failed.
        const lost = rec.err || { name: "WorkerLostError", message: `the worker running attempt ${attempt} of step ${name} stopped before it finished` };
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
      emit({ t: "start", s: name, o: occ, a: attempt, c: attempt === 1 && !rec ? cfg : undefined });
      inflight.set(key, [name, occ, attempt, cfg]);
      // A timeout shorter than the advance's time limit needs a deadline of its own in the host
      // (two crossings); longer ones are enforced by the advance's limit at no cost.
      const timed = cfg.timeout < init.timeLimitMs;
      let marked = true;
      if (timed || init.trace) {
        marks[marks.length] = ["start", name, occ, attempt];
        flush(timed ? { deadline: [key, cfg.timeout] } : undefined);
      } else marked = begun(name, occ, attempt);
      let text;
      let over = false;
      try {
        current = name;
        let pending;
        try { pending = fn({ attempt }); } finally { current = null; }
        const value = await pending;
        over = true;
        ended(name, occ, attempt, marked);
        if (timed) flush({ clear: key });
        text = toJson(value, `the result of step ${name}`);
      } catch (err) {
        if (!over) {
          ended(name, occ, attempt, marked);
          if (timed) flush({ clear: key });
        }
        inflight.delete(key);
        const info = errorInfo(err);
        if (info.name === "MemoryLimitError") info.message += ` in step ${name}`;
        const wake = failed(name, occ, key, attempt, cfg, info, err instanceof NonRetryableError);
        if (wake === null) throw toError(info);
        if (wake > NOW) return block(wake);
        continue; // no delay: the next attempt runs now
      }
      inflight.delete(key);
      if (halted) return never;
      emit({ t: "ok", s: name, o: occ, a: attempt, v: text });
      if (dirty) flush();
      settle(NOW, key);
      return parse(text);
    }
  }
  // Records a failed attempt; returns when the next attempt is due, or null when the step failed.
  function failed(name, occ, key, attempt, cfg, info, final) {
    if (final || attempt > cfg.retries.limit) {
      emit({ t: "fail", s: name, o: occ, a: attempt, e: info, final: true });
      if (dirty) flush();
      settle(NOW, key);
      return null;
    }
    const delay = retryDelay(cfg, attempt);
    emit({ t: "fail", s: name, o: occ, a: attempt, e: info, delay, wake: NOW + delay });
    if (dirty) flush();
    return NOW + delay;
  }

  // ---- sleeps --------------------------------------------------------------------------------
  async function sleepUntil(name, wakeAt, kind) {
    const [occ, key, index] = keyOf(name, "sleep");
    const rec = index === undefined ? undefined : row(index);
    if (rec) {
      if (rec.status === "complete") { settle(rec.wake, key); return; }
      if (rec.wake > NOW) return block(rec.wake);
      emit({ t: "slept", s: name, o: occ });
      settle(rec.wake, key);
      return;
    }
    if (halted) return never;
    const wake = wakeAt();
    emit({ t: "sleep", s: name, o: occ, wake });
    if (wake > NOW) return block(wake);
    emit({ t: "slept", s: name, o: occ });
    settle(wake, key);
  }
  function sleep(name, value) {
    return sleepUntil(name, () => NOW + duration(value, `sleep ${name}`));
  }
  function sleepUntilDate(name, date) {
    return sleepUntil(name, () => {
      const ms = date instanceof RealDate ? date.getTime() : typeof date === "string" ? RealDate.parse(date) : date;
      if (typeof ms !== "number" || !Number.isFinite(ms)) throw new WorkflowError(`sleepUntil ${name}: not a date: ${String(date)}`, "ConfigError");
      if (ms - NOW > 365 * DAY) throw new WorkflowError(`sleepUntil ${name}: date is more than 365 days ahead`, "ConfigError");
      return Math.max(Math.round(ms), NOW);
    });
  }

  // ---- waitForEvent --------------------------------------------------------------------------
  async function waitForEvent(name, options) {
    const [occ, key, index] = keyOf(name, "wait");
    const rec = index === undefined ? undefined : row(index);
    const opts = options || {};
    if (typeof opts.type !== "string" || !opts.type) throw new WorkflowError(`waitForEvent ${name}: type is required`, "ConfigError");
    let deadline;
    if (rec) {
      if (rec.status === "complete") { settle(rec.done, key); return rec.out; }
      if (rec.status === "errored") { settle(rec.done, key); throw toError(rec.err); }
      deadline = rec.wake;
    } else {
      if (halted) return never;
      deadline = NOW + duration(opts.timeout === undefined ? "24 hours" : opts.timeout, `waitForEvent ${name}: timeout`);
      emit({ t: "wait", s: name, o: occ, type: opts.type, wake: deadline });
    }
    const found = inbox.findIndex((e) => e.type === opts.type);
    if (found >= 0) {
      const [event] = inbox.splice(found, 1);
      const value = { type: event.type, payload: event.payload, timestamp: event.timestamp };
      const text = stringify(value);
      emit({ t: "got", s: name, o: occ, ev: event.id, v: text });
      settle(NOW, key);
      return parse(text);
    }
    if (deadline <= NOW) {
      const info = { name: "WaitTimeoutError", message: `waitForEvent ${name}: no ${opts.type} event arrived before the timeout` };
      emit({ t: "timeout", s: name, o: occ, e: info });
      settle(NOW, key);
      throw toError(info);
    }
    waitTypes.add(opts.type);
    return block(deadline);
  }

  // ---- logs ----------------------------------------------------------------------------------
  function logger(level) {
    return (...args) => {
      if (halted || logCount >= init.maxLogs || logBytes >= init.maxLogBytes) return;
      const text = args.map((a) => {
        if (typeof a === "string") return a;
        try { return stringify(a); } catch (e) { return String(a); }
      }).join(" ").slice(0, 8192);
      logCount += 1;
      logBytes += text.length;
      const full = logCount === init.maxLogs || logBytes >= init.maxLogBytes;
      emit({ t: "log", l: level, s: current, m: full ? "(log limit reached: later lines of this run are dropped)" : text });
    };
  }
  globalThis.console = { log: logger("info"), info: logger("info"), warn: logger("warn"), error: logger("error"), debug: logger("debug") };

  // ---- the step object and the run -----------------------------------------------------------
  const step = { do: doStep, sleep, sleepUntil: sleepUntilDate, waitForEvent };
  for (const cap of init.capabilities) {
    const pure = init.pureCapabilities.includes(cap);
    step[cap] = (args) => {
      if (halted) return never;
      // The caller is known when one attempt is in flight (per-step limits count against it).
      const caller = inflight.size === 1 ? [...inflight.values()][0][0] : null;
      const reply = flush({ cap: [cap, args === undefined ? null : args, caller] });
      if (!pure) dirty = true; // a side effect: the step that caused it commits before the next starts
      return reply.error ? Promise.reject(toError(reply.error)) : Promise.resolve(reply.result);
    };
  }
  Object.freeze(step);

  let outcome = null;
  globalThis.__engine = {
    start(run) {
      if (typeof run !== "function") {
        outcome = { error: { name: "ProgramError", message: "the program has no default export function run(event, step)" } };
        return;
      }
      const event = { payload: init.params, timestamp: init.created, instanceId: init.instanceId };
      Promise.resolve()
        .then(() => run(event, step))
        .then(
          (value) => { outcome = { output: toJson(value, "the workflow's return value") }; },
          (err) => { outcome = { error: errorInfo(err) }; },
        )
        .catch((err) => { outcome = { error: errorInfo(err) }; });
    },
    // The advance was cut short (time or memory): every attempt in flight failed with `info`.
    // `expired`: keys of steps whose own timeout passed (the others in flight were cut short too).
    interrupted(info, expired) {
      const lost = [...inflight.values()];
      inflight.clear();
      for (const [name, occ, attempt, cfg] of lost) {
        const error = expired.includes(name + SEP + occ)
          ? { name: "TimeoutError", message: `step ${name}: exceeded its timeout of ${cfg.timeout / 1000} s` }
          : { name: info.name, message: `step ${name}: ${info.message}` };
        failed(name, occ, name + SEP + occ, attempt, cfg, error, false);
      }
      return lost.length;
    },
    finish() {
      return hostJson({
        cmds: commands.splice(0),
        marks: marks.splice(0),
        outcome,
        wake: timers.length ? Math.min(...timers) : null,
        waitTypes: [...waitTypes],
        halted,
      });
    },
  };
};
