"""docs/benchmarks.md: its sections, their provenance, the plots and the measurements behind them.

A section is everything from its `## Title` line to the next `## ` line. `update_section`
replaces one section (or appends it) and leaves every other as it is; `arrange` puts the
sections in a given order; `set_header` replaces the text before the first section. The raw
measurements a section derives its numbers from are kept beside the plots in docs/bench/
(`save_results` / `load_results`), so a section computed from another's measurements (the
energy estimate from the RTL cycle counts) can be regenerated alone.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
ASSETS = ROOT / "docs" / "bench"              # plots (PNG) and measurements (JSON)


class BenchError(Exception):
    """A benchmark that cannot run as asked (a bad option, a missing measurement or tool); the
    message says what and how to get it. `python -m bench` prints it and exits with status 2."""


HEADER = "# Benchmarks\n\nEvery number here was produced by the command shown with it.\n"


def commit() -> str:
    """The checkout's short commit, with `+` when files outside docs/ (which the benchmarks
    write) have uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=ROOT).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)docs"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "?"
    return (head or "?") + ("+" if dirty else "")


def machine() -> str:
    return (f"{time.strftime('%Y-%m-%d')}, commit {commit()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def provenance(command: str, configuration: str | None = None) -> str:
    """The lines that open a section: the command, the configuration, date, commit and machine."""
    lines = [f"Command: `{command}`  "]
    if configuration:
        lines.append(f"Configuration: {configuration}  ")
    lines.append(f"Machine: {machine()}.")
    return "\n".join(lines)


# --- sections ------------------------------------------------------------------------------------

_SECTION = re.compile(r"^## (.+)$", re.M)


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(header, [(title, section text including its `## title` line)]) of a markdown text."""
    starts = [(m.start(), m.group(1).strip()) for m in _SECTION.finditer(text)]
    header = text[:starts[0][0]] if starts else text
    sections = []
    for k, (at, title) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        sections.append((title, text[at:end].rstrip() + "\n"))
    return header, sections


def join_sections(header: str, sections: list[tuple[str, str]]) -> str:
    parts = [header.rstrip() + "\n"] + [body for _, body in sections]
    return "\n".join(parts).rstrip() + "\n"


def replace_section(text: str, title: str, body: str) -> str:
    """`text` with the section `title` replaced by `body` (appended when it has none)."""
    header, sections = split_sections(text or HEADER)
    new = f"## {title}\n\n{body.strip()}\n"
    for k, (name, _) in enumerate(sections):
        if name == title:
            sections[k] = (title, new)
            break
    else:
        sections.append((title, new))
    return join_sections(header, sections)


def arrange(text: str, order: list[str]) -> str:
    """The sections of `text` in the order of `order`; sections it does not name follow, as
    they were."""
    header, sections = split_sections(text)
    rank = {title: k for k, title in enumerate(order)}
    indexed = sorted(enumerate(sections), key=lambda e: (rank.get(e[1][0], len(order)), e[0]))
    return join_sections(header, [s for _, s in indexed])


def set_header(text: str, header: str) -> str:
    _, sections = split_sections(text)
    return join_sections(header, sections)


def update_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) one section of docs/benchmarks.md, leaving the others as they are."""
    text = path.read_text() if path.exists() else HEADER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_section(text, title, body))


def publish(title: str, text: str, write: bool) -> None:
    """Print a section's text; with `write`, also put it into docs/benchmarks.md."""
    print(text)
    if write:
        update_section(title, text)


# --- plots and measurements ----------------------------------------------------------------------


def save_figure(figure, name: str) -> str:
    """Write a matplotlib figure to docs/bench/<name>.png; returns its path from docs/."""
    ASSETS.mkdir(parents=True, exist_ok=True)
    figure.savefig(ASSETS / f"{name}.png", dpi=90, bbox_inches="tight",
                   metadata={"Software": None})      # no version stamp: a rerun changes only the data
    return f"bench/{name}.png"


def save_results(name: str, data: dict, command: str) -> None:
    """Keep a section's raw measurements in docs/bench/<name>.json with their provenance."""
    ASSETS.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "date": time.strftime("%Y-%m-%d"), "commit": commit(),
              "python": platform.python_version(), "data": data}
    (ASSETS / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")


def load_results(name: str) -> dict:
    """The record save_results wrote (command, date, commit, data); BenchError names the command
    that makes it when there is none."""
    path = ASSETS / f"{name}.json"
    if not path.exists():
        raise BenchError(f"{path.relative_to(ROOT)} is missing: run `python -m bench --only "
                                f"{name}` first")
    return json.loads(path.read_text())
