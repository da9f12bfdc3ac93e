#!/usr/bin/env python3
"""Turns every C++ snippet of README.md and docs/*.md into one Catch2 test program.

The rules (also in docs/snippets/README.md, where authors look):
  * A fenced block labelled cpp (or c++) is a snippet. Every fence names its language
    (cpp, sh, python, text, ...): an unlabelled fence is an error, so C++ cannot hide in one.
  * In a table row, a `code span` holding a ';' and ending with ';' or '}' is a statement
    snippet (so `{h, c}` or `tg::zeros` are not; `{ tg::NoGradGuard g; W.copy_(v); }` is).
  * A snippet with `int main(` is a whole program: compiled and run (it must return 0).
  * Any other snippet is a fragment: compiled as the body of a function, after the default
    context (tapegrad.hpp, <cstdint> <fstream> <iostream> <memory> <optional> <string>
    <vector>, and the aliases F, nn, data, train, optim) and the preludes named
    by the marker line right before it (a table's marker is the line right before the
    table and covers all its cells):
        <!-- snippet: prelude=model,tensors -->   docs/snippets/model.inc, tensors.inc first
        <!-- snippet: toplevel -->                declarations at namespace scope
        <!-- snippet: no-run (why) -->             a whole program compiled, not run
        <!-- snippet: skip (why) -->               not C++ that compiles alone (say why)
  * #include lines of a snippet are moved to the top of the generated file.
Errors point at the markdown file and line (#line directives).

usage: docs_snippets.py SOURCE_ROOT OUTPUT.cpp DEPFILE
"""
import glob
import os
import re
import sys

FENCE = re.compile(r"^(\s*)(`{3,})\s*([^\s`]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
MAIN = re.compile(r"\bint\s+main\s*\(")
INCLUDE = re.compile(r"^\s*#\s*include\s*[<\"].*$")


# Part of the default context, with tapegrad.hpp and the namespace aliases.
DEFAULT_STD_HEADERS = ["cstdint", "fstream", "iostream", "memory", "optional", "string", "vector"]


class DocError(Exception):
    pass


class Snippet:
    def __init__(self, path, line, code, options, kind):
        self.path, self.line, self.code, self.options, self.kind = path, line, code, options, kind


def parse_marker(text, path, line):
    """'prelude=a,b toplevel no-run (why)' -> dict."""
    options = {"prelude": [], "toplevel": False, "no_run": None, "skip": None}
    rest = text
    while rest:
        m = re.match(r"(prelude)=([\w,-]+)\s*|(toplevel)\s*|(no-run|skip)\s*\(([^)]*)\)\s*", rest)
        if not m:
            raise DocError(f"{path}:{line}: cannot read snippet marker '{text}' "
                           "(expected prelude=NAME[,NAME], toplevel, no-run (why) or skip (why))")
        if m.group(1):
            options["prelude"] += [p for p in m.group(2).split(",") if p]
        elif m.group(3):
            options["toplevel"] = True
        else:
            if not m.group(5).strip():
                raise DocError(f"{path}:{line}: '{m.group(4)}' needs a reason in parentheses")
            options["no_run" if m.group(4) == "no-run" else "skip"] = m.group(5).strip()
        rest = rest[m.end():]
    return options


def marker_before(lines, index, path):
    """The marker on the last non-blank line before lines[index], if any."""
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0:
        m = MARKER.match(lines[j])
        if m:
            return parse_marker(m.group(1), path, j + 1)
    return parse_marker("", path, index + 1)


def extract(path, rel):
    lines = open(path, encoding="utf-8").read().split("\n")
    snippets = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            indent, ticks, lang = m.group(1), m.group(2), m.group(3).lower()
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*" + ticks + r"\s*$", lines[j]):
                j += 1
            if j == len(lines):
                raise DocError(f"{rel}:{i + 1}: fence never closed")
            if not lang:
                raise DocError(f"{rel}:{i + 1}: fence without a language; label it "
                               "(```cpp is compiled by the docs-snippet test; ```text, ```sh, ... are not)")
            if lang in ("cpp", "c++"):
                body = [l[len(indent):] if l.startswith(indent) else l for l in lines[i + 1:j]]
                options = marker_before(lines, i, rel)
                code = "\n".join(body)
                kind = "program" if MAIN.search(code) else "fragment"
                snippets.append(Snippet(rel, i + 2, code, options, kind))
            i = j + 1
            continue
        if lines[i].lstrip().startswith("|"):
            options = marker_before(lines, i, rel)
            cells = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                for span in CODE_SPAN.finditer(lines[i]):
                    text = span.group(2).strip()
                    if ";" in text and (text.endswith(";") or text.endswith("}")):
                        cells.append((i + 1, text))
                i += 1
            if cells:
                snippets.append(Snippet(rel, cells[0][0], cells, options, "table"))
            continue
        i += 1
    return snippets


def read_prelude(root, name, where, depends, includes):
    """(path, text) of docs/snippets/NAME.inc; its #include lines go to `includes`."""
    path = os.path.join(root, "docs", "snippets", name + ".inc")
    if not os.path.isfile(path):
        raise DocError(f"{where}: prelude '{name}' not found (expected docs/snippets/{name}.inc)")
    depends.append(path)
    includes += [l.strip() for l in split_includes(open(path, encoding="utf-8").read())[0]]
    # Blank lines keep the #line numbering of the rest right.
    return path, "\n".join("" if INCLUDE.match(l) else l for l in open(path, encoding="utf-8").read().split("\n"))


def split_includes(code):
    includes, body = [], []
    for line in code.split("\n"):
        (includes if INCLUDE.match(line) else body).append(line)
    return includes, body


def line_directive(line, path):
    return f'#line {line} "{path}"'


def generate(root, out_path, dep_path):
    docs = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    depends = list(docs) + [os.path.join(root, "docs"), os.path.join(root, "docs", "snippets")]
    snippets = []
    for path in docs:
        snippets += extract(path, os.path.relpath(path, root))

    includes = ["#include <tapegrad/tapegrad.hpp>"] + [f"#include <{h}>" for h in DEFAULT_STD_HEADERS]
    parts, programs = [], []
    counts = {"program": 0, "fragment": 0, "table cell": 0, "skipped": 0}
    for n, s in enumerate(snippets):
        where = f"{s.path}:{s.line}"
        if s.options["skip"] is not None:
            counts["skipped"] += 1
            parts.append(f"// {where}: skipped ({s.options['skip']})")
            continue
        preludes = [read_prelude(root, p, where, depends, includes) for p in s.options["prelude"]]
        ns = f"snippet_{n}"
        out = [f"// {where} ({s.kind})", f"namespace {ns} {{"]
        if s.kind == "table":
            out.append("[[maybe_unused]] void table() {")
            for ppath, ptext in preludes:
                out += [line_directive(1, os.path.relpath(ppath, root)), ptext]
            for line, text in s.code:
                counts["table cell"] += 1
                out += [line_directive(line, s.path), "{ " + text + " }"]
            out.append("}")
        else:
            inc, body = split_includes(s.code)
            includes += [l.strip() for l in inc]
            code = "\n".join(body)
            if s.kind == "program":
                counts["program"] += 1
                # `auto` so that a main without `return` deduces void and a `return 0;` int.
                code = MAIN.sub("auto snippet_main(", code, count=1)
                out += [line_directive(s.line, s.path), code]
                programs.append((ns, where, s.options["no_run"]))
            elif s.options["toplevel"]:
                counts["fragment"] += 1
                for ppath, ptext in preludes:
                    out += [line_directive(1, os.path.relpath(ppath, root)), ptext]
                out += [line_directive(s.line, s.path), code]
            else:
                counts["fragment"] += 1
                out.append("[[maybe_unused]] void fragment() {")
                for ppath, ptext in preludes:
                    out += [line_directive(1, os.path.relpath(ppath, root)), ptext]
                # In a block of its own, so the snippet may redeclare a prelude's names.
                out += ["{", line_directive(s.line, s.path), code, "}", "}"]
        out.append(f"}}  // namespace {ns}")
        parts.append("\n".join(out))

    seen, unique = set(), []
    for inc in includes + ["#include <catch2/catch.hpp>", "#include <type_traits>"]:
        if inc not in seen:
            seen.add(inc)
            unique.append(inc)
    text = [
        "// Generated by tools/docs_snippets.py from README.md and docs/*.md: do not edit.",
        "// Rules and markers: docs/snippets/README.md.",
        *unique,
        "",
        "// The default context of every snippet (docs/snippets/README.md).",
        "namespace F = tg::nn::functional;",
        "namespace nn = tg::nn;",
        "namespace data = tg::data;",
        "namespace train = tg::train;",
        "namespace optim = tg::optim;",
        "",
        "namespace {",
        "// Calls a renamed main with or without (argc, argv); a void result means 0.",
        "template <class Main>",
        "int run_program(Main main_function) {",
        '    char arg0[] = "docs_snippet";',
        "    char* argv[] = {arg0, nullptr};",
        "    int argc = 1;",
        "    if constexpr (std::is_invocable_v<Main, int, char**>) {",
        "        if constexpr (std::is_void_v<std::invoke_result_t<Main, int, char**>>) {",
        "            main_function(argc, argv);",
        "            return 0;",
        "        } else {",
        "            return main_function(argc, argv);",
        "        }",
        "    } else if constexpr (std::is_void_v<std::invoke_result_t<Main>>) {",
        "        main_function();",
        "        return 0;",
        "    } else {",
        "        return main_function();",
        "    }",
        "}",
        "}  // namespace",
        "",
        *parts,
        "",
    ]
    # Back to this file's own line numbers for the test cases (the snippets' #line would
    # otherwise still be in force).
    text.append(line_directive(len("\n".join(text).split("\n")) + 2, os.path.basename(out_path)))
    for ns, where, no_run in programs:
        if no_run is not None:
            text.append(f"// {where}: compiled, not run ({no_run})")
            continue
        text += [
            f'TEST_CASE("{where}: the whole program runs and returns 0") {{',
            f"    CHECK(run_program([](auto... args) -> decltype({ns}::snippet_main(args...)) {{ return {ns}::snippet_main(args...); }}) == 0);",
            "}",
        ]
    text.append(f"// programs {counts['program']}, fragments {counts['fragment']}, "
                f"table cells {counts['table cell']}, skipped {counts['skipped']}")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(text))
    with open(dep_path, "w", encoding="utf-8") as f:
        f.write(out_path.replace(" ", "\\ ") + ": " + " ".join(d.replace(" ", "\\ ") for d in depends) + "\n")
    print(f"docs snippets: {counts['program']} programs, {counts['fragment']} fragments, "
          f"{counts['table cell']} table cells, {counts['skipped']} skipped", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        generate(sys.argv[1], sys.argv[2], sys.argv[3])
    except DocError as e:
        sys.exit(f"docs_snippets: {e}")
