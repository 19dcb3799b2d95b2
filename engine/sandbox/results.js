    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: MAX_OUTPUT, the host
    // call). What the runtime reports of a thrown value (errorInfo, read defensively: getters,
    // Proxies, QuickJS's `null` for memory exhaustion), the Error a stored error becomes again
    // (toError), and a result as JSON text within the size limit (toJson).
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

