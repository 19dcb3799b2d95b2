// Compiled by the builder from a workflow graph: edit the graph, not this program.
// Each node is a step named by its node id (in a loop body: id[index]).
import { NonRetryableError } from "cloudflare:workflows";

const SKIP = Symbol("skipped");
const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));

// Runs a node when its inputs have settled; it is skipped if none of its incoming edges was taken.
// inputs: [promise of the source's { value, handle }, the edge's source handle or null, source id]
function node(steps, id, inputs, merge, body) {
  return (async () => {
    const results = await Promise.all(inputs.map(([p]) => p));
    const taken = [];
    inputs.forEach(([, handle, source], k) => {
      const r = results[k];
      if (r !== SKIP && (handle === null || r.handle === handle)) taken.push([source, r.value]);
    });
    if (inputs.length && !taken.length) return SKIP;
    const input = merge ? Object.fromEntries(taken) : taken.length ? taken[0][1] : undefined;
    const out = await body(input);
    steps[id] = out.value;
    return out;
  })();
}

// The outputs of the nodes that end the flow: the value itself when there is one such node.
function outputs(steps, ids) {
  if (ids.length === 1) return steps[ids[0]] ?? null;
  return Object.fromEntries(ids.filter((id) => id in steps).map((id) => [id, steps[id]]));
}

// Runs fn over items with at most `limit` at a time; results in item order.
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export default async function run(event, step) {
  const steps = {};
  const sfx = "";
  const item = undefined, index = undefined;

  // hook (webhook)
  const n1 = node(steps, "hook", [], false, async (input) => {
    return { value: event.payload };
  });

  // answer (respond)
  const n2 = node(steps, "answer", [[n1, null, "hook"]], false, async (input) => {
    return { value: await step.do("answer", {"retries": {"limit": 0}}, () => ({ "status": 202, "headers": {  }, "body": { "ok": true } })) };
  });

  // fetch_order (http)
  const n3 = node(steps, "fetch_order", [[n1, null, "hook"]], false, async (input) => {
    return { value: await step.do("fetch_order", {"retries": {"backoff": "exponential", "delay": "5 seconds", "limit": 3}}, () => step.http({ "url": `https://api.example.com/orders/${text(input.body.id)}`, "method": "GET" })) };
  });

  // big (branch)
  const n4 = node(steps, "big", [[n3, null, "fetch_order"]], false, async (input) => {
    const taken = await step.do("big", {"retries": {"limit": 0}}, () => Boolean((steps.fetch_order.json.total > 100)));
    return { value: input, handle: taken ? "true" : "false" };
  });

  // manager (approval)
  const n5 = node(steps, "manager", [[n4, "true", "big"]], false, async (input) => {
    let decision;
    try {
      const received = await step.waitForEvent("manager", { type: "approval:" + "manager", timeout: "2 days" });
      decision = { ...received.payload, timedOut: false };
    } catch (e) {
      if (e.name !== "WaitTimeoutError") throw e;
      decision = { decision: "reject", timedOut: true };
    }
    return { value: decision, handle: decision.decision === "approve" ? "approved" : "rejected" };
  });

  // join (merge)
  const n6 = node(steps, "join", [[n4, "false", "big"], [n5, "approved", "manager"]], true, async (input) => {
    return { value: input };
  });

  // cool_off (sleep)
  const n7 = node(steps, "cool_off", [[n6, null, "join"]], false, async (input) => {
    await step.sleep("cool_off", "1 day");
    return { value: input };
  });

  // notify (http)
  const n8 = node(steps, "notify", [[n7, null, "cool_off"]], false, async (input) => {
    return { value: await step.do("notify", {}, () => step.http({ "url": "https://hooks.example.com/shipped", "method": "POST", "json": { "order": (steps.fetch_order.json.id) } })) };
  });

  await Promise.all([n1, n2, n3, n4, n5, n6, n7, n8]);
  return outputs(steps, ["answer", "notify"]);
}
//# workflow-map={"v":1,"ranges":[[52,54,"hook",null,1,0,0,0],[57,59,"answer",null,1,0,0,0],[62,64,"fetch_order",null,1,0,0,0],[63,63,"fetch_order","url",1,154,189,202],[67,70,"big",null,1,0,0,0],[68,68,"big","condition",1,78,82,116],[73,83,"manager",null,1,0,0,0],[86,88,"join",null,1,0,0,0],[91,94,"cool_off",null,1,0,0,0],[97,99,"notify",null,1,0,0,0],[98,98,"notify","json",1,145,149,174]]}
