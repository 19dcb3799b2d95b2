// Step configuration, pure: durations, a step's resolved retry policy and timeout, its rollback
// options, the context a step callback receives (ctx), and what a retry-delay function may return.
// Evaluated after primordials.js and before prelude.js, in the same closure (runtime.py), at image
// time: nothing here reads the instance, the host or the clock, so one copy serves every context.
// Invariant: what leaves here for the host (`wire`) holds only JSON values (a delay function is
// the marker "function"); what goes to the program (`userConfig`, `stepContext`) is a fresh object
// per call, so a program that changes one changes nothing the runtime reads.
  const DAY = 86400000;
  const MAX_MS = 365 * DAY;
  const UNITS = {
    __proto__: null,
    millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY,
  };
  const DEFAULTS = ObjectFreeze({ __proto__: null, limit: 5, delay: 10000, backoff: "exponential", timeout: 600000 });
  // How long a retry-delay function may take (Cloudflare's limit); the host enforces it as a deadline.
  const DELAY_FUNCTION_MS = 5000;

  class NonRetryableError extends SafeError {
    constructor(message, name) {
      super(message);
      ObjectDefineProperty(this, "name", { value: name || "NonRetryableError", writable: true, configurable: true });
    }
  }
  // The runtime's own errors (a bad config, a result that is not JSON): never retried.
  class WorkflowError extends NonRetryableError {}

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
    if (ms > MAX_MS) throw new WorkflowError(`${what}: duration is over 365 days`, "ConfigError");
    return MathRound(ms);
  }

  // {retries: {limit, delay: ms | function, backoff}, timeout: ms}, defaults applied. `what` names
  // the config in errors ("step charge", "the rollback of step charge").
  function stepConfig(what, config) {
    if (config === undefined || config === null) config = { __proto__: null };
    if (typeof config !== "object") throw new WorkflowError(`${what}: config must be an object`, "ConfigError");
    const r = config.retries || { __proto__: null };
    const limit = r.limit === undefined ? DEFAULTS.limit : r.limit;
    if (!NumberIsInteger(limit) || limit < 0 || limit > 1000) {
      throw new WorkflowError(`${what}: retries.limit must be an integer from 0 to 1000`, "ConfigError");
    }
    const backoff = r.backoff === undefined ? DEFAULTS.backoff : r.backoff;
    if (backoff !== "constant" && backoff !== "linear" && backoff !== "exponential") {
      throw new WorkflowError(`${what}: retries.backoff must be constant, linear or exponential`, "ConfigError");
    }
    const raw = r.delay;
    // A function is called after each failed attempt (`({ctx, error}) => duration | ms`).
    const delay = raw === undefined ? DEFAULTS.delay : typeof raw === "function" ? raw : duration(raw, `${what}: retries.delay`);
    const timeout = config.timeout === undefined ? DEFAULTS.timeout : duration(config.timeout, `${what}: timeout`);
    return { __proto__: null, retries: { __proto__: null, limit, delay, backoff }, timeout };
  }

  // The delay before attempt `attempt + 1`: the base delay (the config's, or what its function
  // returned) through the backoff.
  function retryDelay(config, attempt, base) {
    const delay = base === undefined ? config.retries.delay : base, backoff = config.retries.backoff;
    const ms = backoff === "constant" ? delay : backoff === "linear" ? delay * attempt : delay * 2 ** (attempt - 1);
    return MathMin(ms, MAX_MS);
  }

  function dynamic(config) {
    return typeof config.retries.delay === "function";
  }

  // What the host stores of a config (JSON only).
  function wire(config) {
    const r = config.retries;
    return {
      __proto__: null,
      retries: { __proto__: null, limit: r.limit, delay: typeof r.delay === "function" ? "function" : r.delay, backoff: r.backoff },
      timeout: config.timeout,
    };
  }

  // The resolved config as a step callback sees it (`ctx.config`): durations in ms; `delay` is
  // absent when it is a function, as on Cloudflare.
  function userConfig(config) {
    const r = config.retries;
    const retries = { limit: r.limit, backoff: r.backoff };
    if (typeof r.delay === "number") retries.delay = r.delay;
    return { retries, timeout: config.timeout };
  }
  function stepContext(name, count, attempt, config) {
    return { step: { name, count }, attempt, config: userConfig(config) };
  }

  // A delay function's answer as a base delay in ms, or null when it is not a duration.
  function delayValue(value) {
    try {
      return duration(value, "the delay");
    } catch (e) {
      return null;
    }
  }

  // `step.do(..., { rollback, rollbackConfig })`: null without options, else the handler and its
  // resolved config (the step defaults where rollbackConfig leaves a field out).
  function rollbackOptions(name, options) {
    if (options === undefined) return null;
    if (options === null || typeof options !== "object" || ArrayIsArray(options)) {
      throw new WorkflowError(`step ${name}: the options after the function must be an object { rollback, rollbackConfig }`, "ConfigError");
    }
    const fn = options.rollback;
    if (typeof fn !== "function") throw new WorkflowError(`step ${name}: rollback must be a function`, "ConfigError");
    return { __proto__: null, fn, config: stepConfig(`the rollback of step ${name}`, options.rollbackConfig) };
  }
