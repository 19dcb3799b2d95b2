#!/usr/bin/env bash
# Mutation testing of the engine, the webhook modules and tenant access (pyproject's [tool.mutmut]):
# mutmut writes each mutant into ./mutants/ (a copy of the project), runs the tests that cover the
# mutated function, and reports the mutants no test caught ("survived").
#
#   bash config/mutants.sh                         # the default scope below
#   bash config/mutants.sh "engine.runner*"        # any mutmut name patterns: module.function*
#   .venv/bin/mutmut show <mutant>                 # the diff of one survivor
#
# CPU heavy (every mutant runs its tests): on a shared 2-core machine keep the scope to a few modules.
set -euo pipefail
cd "$(dirname "$0")/.."
export HYPOTHESIS_PROFILE=ci
if [ $# -eq 0 ]; then
  set -- "engine.services*" "engine.lease*" "engine.checkpoints*" "tenants.access*" "triggers.webhooks*"
fi
.venv/bin/mutmut run --max-children "${MUTANT_CHILDREN:-1}" "$@" || true
.venv/bin/python - "$@" <<'PY'
"""Summarise the results of the mutants in scope: killed, survived, the rest, and the score."""
import fnmatch
import subprocess
import sys

patterns = sys.argv[1:]
out = subprocess.run([".venv/bin/mutmut", "results", "--all", "true"], capture_output=True, text=True).stdout
counts, survivors = {}, []
for line in out.splitlines():
    name, _, status = line.strip().rpartition(": ")
    if not name or not any(fnmatch.fnmatch(name, p) for p in patterns):
        continue
    counts[status] = counts.get(status, 0) + 1
    if status == "survived":
        survivors.append(name)
killed = counts.get("killed", 0) + counts.get("timeout", 0)
scored = killed + counts.get("survived", 0)
print("mutants:", dict(sorted(counts.items())))
print(f"score: {killed}/{scored} killed = {100 * killed / scored:.1f}%" if scored else "score: no mutant was tested")
print("survivors:", *survivors, sep="\n  ")
PY
