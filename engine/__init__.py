"""The durable engine: runs step programs (any ES module, compiled from a graph or written by
hand): instances, step records, timers, the event inbox, the progress log, the sandbox, dispatch.

Layer: above tenants only. The engine knows nothing of graphs: it imports no builder, triggers or
console module (.importlinter); what it needs from them is named in settings."""
