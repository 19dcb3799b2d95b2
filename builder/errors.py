"""The builder's domain error: a graph with problems (422, each problem naming its node and field)."""
from tenants.errors import InvalidInput


class GraphInvalid(InvalidInput):
    """The graph has problems: `problems` lists every one as {node_id, field, code, message}."""

    def __init__(self, problems: list[dict]):
        first = problems[0]
        super().__init__(first.get("field") or "graph", f"the graph has {len(problems)} problem(s): {first['message']}")
        self.problems = problems
        self.node_id = first.get("node_id")


class ProgramInvalid(InvalidInput):
    """The program does not compile (or imports a module that does not exist): QuickJS's message,
    with the line and column it gave (1-based, as in the submitted text)."""

    code = "invalid_program"

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f" (line {line}, column {column})" if line else ""
        super().__init__("program", f"the program does not compile: {message}{where}")
        self.line, self.column = line, column
