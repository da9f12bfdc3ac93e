#!/usr/bin/env bash
# docs/ops.md stays a complete map: every public op declared in include/tapegrad/ops.hpp or
# include/tapegrad/nn/functional.hpp has a row, and every row's file exists and defines it. On failure it
# prints the exact row to add.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 - <<'PY'
import os, re, sys

headers = ["include/tapegrad/ops.hpp", "include/tapegrad/nn/functional.hpp"]
# A namespace-scope declaration: a return type at column 0, then name(.
decl = re.compile(r"^(?:inline\s+|\[\[nodiscard\]\]\s+)*[A-Za-z_][\w:<>, ]*?[\w>&*]\s+&?([a-z_]\w*)\(")
skip_starts = (" ", "\t", "/", "#", "}", "namespace", "using", "enum", "struct", "class", "template", "{")
ops = {}
for header in headers:
    for number, line in enumerate(open(header), 1):
        if line.startswith(skip_starts) or "operator" in line:
            continue
        m = decl.match(line)
        if m and m.group(1) not in ops:
            ops[m.group(1)] = f"{header}:{number}"

rows = {}
for number, line in enumerate(open("docs/ops.md"), 1):
    m = re.match(r"^\| `([A-Za-z_]\w*)` \|([^|]*)\|", line)
    if m:
        rows[m.group(1)] = (m.group(2).strip(), number)

problems = []
if len(ops) < 50:
    problems.append(f"found only {len(ops)} op declarations in {headers}: the parser is broken")
for name, where in ops.items():
    if name not in rows:
        problems.append(
            f"docs/ops.md has no row for `{name}` (declared at {where}). Add this row to its table\n"
            f"  (fill in the <...> fields):\n"
            f"| `{name}` | lib/ops/<family>.cpp | <what its backward saves, or — (no gradient)> "
            f"| <yes/no/—> | <test_<file>.cpp that gradchecks it, or no> |")
for name, (path, number) in rows.items():
    if not os.path.isfile(path):
        problems.append(f"docs/ops.md:{number}: the row for `{name}` names file '{path}', which does not exist")
    elif not re.search(r"\b" + name + r"\(", open(path).read()):
        problems.append(f"docs/ops.md:{number}: the row for `{name}` names file '{path}', which does not define it")
print(f"ops.md: {len(ops)} public ops declared, {len(rows)} rows")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
