"""Workflow definitions: Workflow (the editable draft), immutable WorkflowVersion (graph, program,
hash), the graph format, the node catalog (builder/nodes/), validation and the compiler.

Layer: above the engine (it hands the engine compiled programs) and tenants; below triggers and
the console, which it never imports (.importlinter)."""
