"""Every command the README and the docs show still parses: `lhcgan …` lines against the command line's
parser, Python blocks as Python."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from lhcgan.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def blocks(kind: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for path in DOCS:
        for lang, body in FENCE.findall(path.read_text()):
            if lang in kind:
                out.append((path.name, body))
    return out


def commands() -> list[tuple[str, str]]:
    """(file, command) for each `lhcgan` command line in a shell block; continued lines joined."""
    out = []
    for name, body in blocks(("bash", "sh", "")):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("lhcgan ") and "[" not in line and "…" not in line and "|" not in line:
                out.append((name, line))
    return out


def test_the_docs_show_commands():
    assert len(commands()) >= 12  # the README's quick start alone shows 12
    assert any(name == "README.md" for name, _ in commands())


@pytest.mark.parametrize("name, line", commands(), ids=lambda v: v[:60] if isinstance(v, str) else v)
def test_every_shown_command_parses(name, line):
    argv = shlex.split(line)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{name}: `{line}` does not parse (exit {exc.code})")


@pytest.mark.parametrize("name, body", blocks(("python",)), ids=lambda v: v[:40] if isinstance(v, str) else v)
def test_every_python_block_is_python(name, body):
    ast.parse(body.replace("    ...", "    pass"))
