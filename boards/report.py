"""What the tools report, and the verdict: does the design fit, does it meet timing.

    utilisation_from_report(report, board)   nextpnr's `--report` JSON ("utilization")
    utilisation_from_log(text, board)        nextpnr's log ("Device utilisation:" lines); the
                                             log has them even when placement failed, the
                                             report JSON is not written then
    utilisation_from_yosys(stat, board)      yosys `stat -json`: an estimate before placement
        -> dict kind -> ResourceUse, kinds as in the board's registry entry ("LUT", "RAM",
           "SPRAM", "DSP"); `available` is what nextpnr counts when it says, else the
           registry's datasheet figure
    clocks_from_report(report)               nextpnr's "fmax": name -> ClockTiming (MHz), each
                                             capped by its paths through combinational cells
                                             (see PSEUDO_CLOCK)
    verdict(resources, clocks, clock_mhz)    -> Verdict(fits, timing_met, failures): each
                                             failure names the resource and by how much it is
                                             over, or the clock, its Fmax and the target
    format_summary(summary) -> str           the human table printed at the end of a build
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .registry import Board

# nextpnr's constraint is the requested frequency to within its picosecond rounding.
CONSTRAINT_MATCH = 0.001

_UTILISATION_LINE = re.compile(r"^Info:\s+(\S+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$")


@dataclass(frozen=True)
class ResourceUse:
    kind: str
    label: str
    used: int
    available: int

    @property
    def percent(self) -> float:
        if not self.available:
            return float("inf") if self.used else 0.0
        return 100.0 * self.used / self.available

    @property
    def over(self) -> int:
        return max(0, self.used - self.available)

    def to_dict(self) -> dict:
        return {"label": self.label, "used": self.used, "available": self.available,
                "percent": round(self.percent, 1) if self.available else None}


# nextpnr-ice40 gives a cell without a clock, e.g. an SB_MAC16 with none of its registers in
# use, a pseudo clock ("$PACKER_GND_NET_$glb_clk") and times the paths into and out of it as
# cross-domain paths, so its Fmax for the real clock leaves out the path *through* the cell.
# That path takes at least the worst path in plus the worst path out (the cell's own delay
# comes on top and is not in nextpnr's model): the clock's Fmax is capped by that sum.
PSEUDO_CLOCK = "$PACKER_"


@dataclass(frozen=True)
class ClockTiming:
    name: str
    achieved_mhz: float
    constraint_mhz: float
    through_pseudo_ns: float | None = None     # in + out of combinational cells, if any

    @property
    def met(self) -> bool:
        return self.achieved_mhz >= self.constraint_mhz

    def to_dict(self) -> dict:
        return {"achieved_mhz": round(self.achieved_mhz, 3),
                "constraint_mhz": round(self.constraint_mhz, 3), "met": self.met,
                "through_combinational_cells_ns": None if self.through_pseudo_ns is None
                else round(self.through_pseudo_ns, 2)}


@dataclass(frozen=True)
class Verdict:
    fits: bool | None           # None: not placed (synthesis only)
    timing_met: bool | None
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def _by_bel(counts: dict[str, tuple[int, int]], board: Board) -> dict[str, ResourceUse]:
    """counts: BEL type -> (used, available) as nextpnr gives them."""
    result = {}
    for kind, resource in board.resources.items():
        used, available = counts.get(resource.nextpnr_bel, (0, resource.available))
        result[kind] = ResourceUse(kind, resource.label, used, available)
    return result


def utilisation_from_report(report: dict, board: Board) -> dict[str, ResourceUse]:
    counts = {bel: (entry["used"], entry["available"])
              for bel, entry in report.get("utilization", {}).items()}
    return _by_bel(counts, board)


def utilisation_from_log(text: str, board: Board) -> dict[str, ResourceUse] | None:
    """The last "Device utilisation" block of a nextpnr log; None if it has none (nextpnr
    stopped before packing)."""
    blocks, in_block = [], False
    for line in text.splitlines():
        if "Device utilisation:" in line:
            blocks.append({})
            in_block = True
            continue
        match = _UTILISATION_LINE.match(line) if in_block else None
        if match:
            blocks[-1][match.group(1)] = (int(match.group(2)), int(match.group(3)))
        else:
            in_block = False
    return _by_bel(blocks[-1], board) if blocks else None


def utilisation_from_yosys(stat: dict, board: Board) -> dict[str, ResourceUse]:
    cells = stat.get("design", {}).get("num_cells_by_type", {})
    result = {}
    for kind, resource in board.resources.items():
        used = sum(cells.get(cell, 0) * units for cell, units in resource.yosys_cells.items())
        result[kind] = ResourceUse(kind, resource.label, used, resource.available)
    return result


def _path_ns(path: dict) -> float:
    return sum(step.get("delay", 0.0) for step in path.get("path", []))


def clocks_from_report(report: dict) -> dict[str, ClockTiming]:
    worst_in, worst_out = {}, {}            # clock name -> ns into / out of combinational cells
    for path in report.get("critical_paths", []):
        source, sink = path.get("from", ""), path.get("to", "")
        source_clock, sink_clock = source.split(" ", 1)[-1], sink.split(" ", 1)[-1]
        if sink_clock.startswith(PSEUDO_CLOCK) and not source_clock.startswith(PSEUDO_CLOCK):
            worst_in[source_clock] = max(worst_in.get(source_clock, 0.0), _path_ns(path))
        elif source_clock.startswith(PSEUDO_CLOCK) and not sink_clock.startswith(PSEUDO_CLOCK):
            worst_out[sink_clock] = max(worst_out.get(sink_clock, 0.0), _path_ns(path))
    clocks = {}
    for name, entry in report.get("fmax", {}).items():
        achieved, through = entry["achieved"], None
        if name in worst_in and name in worst_out:
            through = worst_in[name] + worst_out[name]
            achieved = min(achieved, 1000.0 / through)
        clocks[name] = ClockTiming(name, achieved, entry["constraint"], through)
    return clocks


def last_error(text: str) -> str | None:
    errors = [line.strip() for line in text.splitlines() if line.startswith("ERROR:")]
    return errors[-1] if errors else None


def verdict(resources: dict[str, ResourceUse], clocks: dict[str, ClockTiming] | None,
            clock_mhz: float) -> Verdict:
    """`clocks` None: timing was not analysed (placement failed or was not run)."""
    failures = []
    fits = True
    for use in resources.values():
        if use.over:
            fits = False
            failures.append(f"does not fit: {use.label} {use.used} used, {use.available} "
                            f"available ({use.over} over, {use.percent:.0f}%)")
    if clocks is None:
        return Verdict(fits, None, tuple(failures))
    timing_met = True
    for clock in clocks.values():
        if not clock.met:
            timing_met = False
            through = ("" if clock.through_pseudo_ns is None else
                       f" (capped by {clock.through_pseudo_ns:.1f} ns through combinational cells)")
            failures.append(f"misses timing: clock {clock.name} Fmax {clock.achieved_mhz:.2f} MHz{through} "
                            f"is below the requested {clock.constraint_mhz:.2f} MHz")
    if not any(abs(clock.constraint_mhz - clock_mhz) <= CONSTRAINT_MATCH * clock_mhz
               for clock in clocks.values()):
        # Without it nextpnr checked some other frequency (or none): timing is unknown.
        timing_met = False
        found = ", ".join(f"{c.name} at {c.constraint_mhz:.2f} MHz" for c in clocks.values())
        failures.append(f"timing not checked: no clock was constrained to {clock_mhz:.3f} MHz "
                        f"(nextpnr saw: {found or 'no clocks'})")
    return Verdict(fits, timing_met, tuple(failures))


def format_summary(summary: dict) -> str:
    """The table of resources (used / available / percent), the clock line, the bitstream."""
    source = summary.get("utilisation_source") or "none"
    lines = [f"{summary['board']} ({summary['part']}), utilisation from {source}:",
             f"  {'resource':<26}{'used':>8}{'available':>11}{'percent':>9}"]
    for use in summary["resources"].values():
        percent = "-" if use["percent"] is None else f"{use['percent']:.1f}%"
        lines.append(f"  {use['label']:<26}{use['used']:>8}{use['available']:>11}{percent:>9}")
    clock = summary["clock"]
    target = f"requested {clock['requested_mhz']:g} MHz, built for {clock['achieved_mhz']:.3f} MHz"
    fmax = summary.get("fmax_mhz")
    if fmax is None:
        lines.append(f"  clock: {target}; Fmax not analysed")
    else:
        state = "met" if summary["timing_met"] else "MISSED"
        lines.append(f"  clock: {target}; Fmax {fmax:.2f} MHz: timing {state}")
    lines.append(f"  bitstream: {summary.get('bitstream') or 'none'}")
    return "\n".join(lines)
