    // Spliced into __boot's body by runtime.py (it shares the runtime's scope: init, the clock).
    // A replay takes the path the first run took: the program's clock (Date, performance) moves
    // only at durable points (settle), and Math.random is reseeded at each, from the instance.
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
      if (!new.target) return new RealDate(read()).toString();
      return args.length === 0 ? new RealDate(read()) : construct(args);
    }
    // The program reads the clock: after a step settled at NOW, what it sees differs from a replay.
    function read() {
      if (drift) tainted = true;
      return clock;
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
    FixedDate.now = () => read();
    FixedDate.parse = DateParse;
    FixedDate.UTC = DateUTC;
    globalThis.Date = FixedDate;
    const clockStart = init.clock;
    globalThis.performance = { now: () => read() - clockStart };
    // Garbage collection timing is not deterministic.
    delete globalThis.WeakRef;
    delete globalThis.FinalizationRegistry;

    function settle(at, key) {
      if (at > clock) clock = at;
      reseedWith = key;
      opened -= 1;
    }
    // A step run (or a wait decided) in this advance settles at its clock; a replay settles it at
    // the time the host stored, which is later.
    function settleNow(key) {
      drift = true;
      settle(NOW, key);
    }

