"""Read a Dockerfile's instructions (enough of the syntax for ours: comments, `\\` continuations)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, USER, HEALTHCHECK…
    arguments: str  # continuation lines joined with single spaces

    def exec_form(self, after: str = "") -> list[str]:
        """The JSON array of an exec-form instruction (`CMD [...]`); `after` skips a prefix."""
        text = self.arguments
        if after:
            text = text[text.index(after) + len(after) :]
        start = text.index("[")
        value = json.loads(text[start:])
        assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value

    def flags(self) -> dict[str, str]:
        """`--name=value` options before the instruction's arguments."""
        return dict(re.findall(r"--([a-z-]+)=(\S+)", self.arguments.split(" CMD ")[0]))


def instructions(path: Path) -> list[Instruction]:
    parsed: list[Instruction] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        logical = pending + stripped
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continuation"
    return parsed


def stages(path: Path) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each starts at a FROM)."""
    grouped: list[list[Instruction]] = []
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped
