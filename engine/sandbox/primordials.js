// Primordials: every intrinsic the step runtime uses, captured when the runtime is evaluated in a
// pristine realm (before any tenant code exists), and the few helpers that stay correct whatever a
// program does to the built-ins later (prototype-less containers, a hand encoder for messages).
// Not a file of its own at run time: runtime.py evaluates it and prelude.js in one closure, so
// none of these names is a global. Call a captured method as `Captured(self, ...args)`.
  // ---- primordials: captured at image time, before any tenant code ---------------------------
  const FunctionPrototype = Function.prototype;
  const uncurry = FunctionPrototype.bind.bind(FunctionPrototype.call); // uncurry(f)(self, ...args)
  const ObjectFreeze = Object.freeze;
  const ObjectSetPrototypeOf = Object.setPrototypeOf;
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectGetPrototypeOf = Object.getPrototypeOf;
  const ObjectPrototype = Object.prototype;
  const ArrayPrototype = Array.prototype;
  const hasOwn = Object.hasOwn;
  const ArrayIsArray = Array.isArray;
  const isPrototypeOf = uncurry(Object.prototype.isPrototypeOf);
  const JSONParse = JSON.parse;
  const JSONStringify = JSON.stringify;
  const StringSlice = uncurry(String.prototype.slice);
  const StringIndexOf = uncurry(String.prototype.indexOf);
  const StringIncludes = uncurry(String.prototype.includes);
  const StringToLowerCase = uncurry(String.prototype.toLowerCase);
  const StringCharCodeAt = uncurry(String.prototype.charCodeAt);
  const SafeString = String;
  const SafeNumber = Number;
  const NumberIsInteger = Number.isInteger;
  const NumberIsFinite = Number.isFinite;
  const MathImul = Math.imul;
  const MathRound = Math.round;
  const MathMin = Math.min;
  const RegExpExec = uncurry(RegExp.prototype.exec);
  const SafeMap = Map;
  const MapGet = uncurry(Map.prototype.get);
  const MapSet = uncurry(Map.prototype.set);
  const MapHas = uncurry(Map.prototype.has);
  const MapDelete = uncurry(Map.prototype.delete);
  const SafePromise = Promise;
  const PromiseThen = Promise.prototype.then;
  const PromiseResolve = Promise.resolve.bind(Promise);
  const PromiseReject = Promise.reject.bind(Promise);
  const SafeError = Error;
  const ErrorPrototype = Error.prototype;
  const InternalErrorPrototype = typeof InternalError === "function" ? InternalError.prototype : null;
  const RangeErrorPrototype = RangeError.prototype;
  const RealDate = Date;
  const DatePrototype = Date.prototype;
  const DateGetTime = uncurry(Date.prototype.getTime);
  const DateParse = Date.parse;
  const DateUTC = Date.UTC;
  const encodeURI = encodeURIComponent;
  const unescapeText = unescape;
  const OUT_OF_MEMORY = /out of memory|allocation failed/i;
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
  const MEMORY_QUERY = '{"cmds":[],"memory":true}';
  const DURATION = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i;

  // Null-prototype containers: reading a missing key or writing a new index never reaches a
  // getter or setter a program defined on Object.prototype or Array.prototype.
  function list() {
    return ObjectSetPrototypeOf([], null);
  }
  function append(array, value) {
    array[array.length] = value;
  }
  function own(object, key) {
    return object !== null && typeof object === "object" && hasOwn(object, key) ? object[key] : undefined;
  }
  // A JSON.parse result re-made without prototypes, so later reads of absent keys stay absent.
  function plain(value) {
    if (value === null || typeof value !== "object") return value;
    if (ArrayIsArray(value)) {
      const out = list();
      for (let i = 0; i < value.length; i++) append(out, plain(value[i]));
      return out;
    }
    const out = { __proto__: null };
    for (const key in value) if (hasOwn(value, key)) out[key] = plain(value[key]);
    return out;
  }
  // Serializes a message to the host, by hand: JSON.stringify of an object or array goes
  // through an internal array whose index writes reach setters on Array.prototype, and looks up
  // toJSON. Only primitives are given to it. Values that came from the program are already JSON
  // text (strings); the rest are the runtime's own objects, arrays and primitives.
  function hostJson(value) {
    return nativeIsSafe() ? JSONStringify(value) : encode(value);
  }
  // Native JSON.stringify is exact for the runtime's messages (objects without prototypes, no
  // toJSON) unless a program made the internal array it uses observable (an index property on
  // Array.prototype or Object.prototype, or another prototype under Array.prototype) or put a
  // toJSON where a stored error (an ordinary object) would find it. Checking
  // that costs far less than encoding by hand, which is kept for the programs that did.
  const INDEXES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"];
  function nativeIsSafe() {
    if (ObjectGetPrototypeOf(ArrayPrototype) !== ObjectPrototype) return false;
    for (let i = 0; i < 16; i++) {
      if (hasOwn(ArrayPrototype, INDEXES[i]) || hasOwn(ObjectPrototype, INDEXES[i])) return false;
    }
    // A message may hold an ordinary object (a stored error): no toJSON may be found on it.
    return !hasOwn(ObjectPrototype, "toJSON") && !hasOwn(ArrayPrototype, "toJSON");
  }
  function encode(value) {
    if (value === null) return "null";
    const type = typeof value;
    if (type === "string" || type === "number" || type === "boolean") return JSONStringify(value);
    if (type !== "object") return undefined;
    if (ArrayIsArray(value)) {
      let out = "[";
      for (let i = 0; i < value.length; i++) {
        const item = encode(value[i]);
        out += (i ? "," : "") + (item === undefined ? "null" : item);
      }
      return out + "]";
    }
    let out = "{";
    for (const key in value) {
      if (!hasOwn(value, key)) continue; // enumerable properties a program put on Object.prototype
      const item = encode(value[key]);
      if (item !== undefined) out += (out.length > 1 ? "," : "") + JSONStringify(key) + ":" + item;
    }
    return out + "}";
  }
  // Sentinel promise of a blocked step: its own `then` is the real one, so resolving an async
  // function with it never calls a `then` the program put on Promise.prototype.
  const never = new SafePromise(() => {});
  ObjectDefineProperty(never, "then", { value: PromiseThen });
  function safeText(value) {
    if (typeof value === "string") return value;
    try {
      return SafeString(value);
    } catch (e) {
      return "(unprintable)";
    }
  }
  function isErrorLike(err) {
    try {
      return err !== null && typeof err === "object" && isPrototypeOf(ErrorPrototype, err);
    } catch (e) {
      return false; // a Proxy whose getPrototypeOf throws
    }
  }
  function protoIs(proto, err) {
    try {
      return proto !== null && err !== null && typeof err === "object" && isPrototypeOf(proto, err);
    } catch (e) {
      return false;
    }
  }
  // RegExp.prototype.test looks `exec` up on the regex (patchable); the captured exec does not.
  function matches(re, text) {
    return RegExpExec(re, text) !== null;
  }
  function field(err, key) {
    try {
      return err[key];
    } catch (e) {
      return undefined;
    }
  }
