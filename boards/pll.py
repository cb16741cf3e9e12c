"""PLL divider settings, computed in Python; no tool is run.

    ice40_pll(f_in_hz, f_out_hz) -> ICE40PLL   SB_PLL40_* with FEEDBACK_PATH "SIMPLE", searched
                                               as icestorm's `icepll` does
    ecp5_pll(f_in_hz, f_out_hz)  -> ECP5PLL    EHXPLLL with CLKOP fed back, searched as
                                               prjtrellis' `ecppll` does

Each result holds the divider values as the primitive takes them, the PFD and VCO frequencies,
and `f_out_hz`: the frequency the PLL really makes, which is what the design must be built and
constrained for (it need not be exactly the requested one; the caller reports both). A request
outside the PLL's output range raises PLLError naming the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware.errors import AxoniteError


class PLLError(AxoniteError, ValueError):
    """The requested output frequency cannot be made from the input clock."""


# iCE40 sysCLOCK PLL limits (iCE40 sysCLOCK PLL Design and Usage Guide, TN1251), as in icepll.
ICE40_F_IN = (10e6, 133e6)
ICE40_F_PFD = (10e6, 133e6)
ICE40_F_VCO = (533e6, 1066e6)
ICE40_F_OUT = (16e6, 275e6)
ICE40_DIVR = range(0, 16)          # 4 bits
ICE40_DIVF = range(0, 128)         # 7 bits
ICE40_DIVQ = range(1, 7)           # 3 bits; 0 and 7 are not legal in SIMPLE feedback


@dataclass(frozen=True)
class ICE40PLL:
    """SB_PLL40 settings: f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)."""
    f_in_hz: float
    f_out_hz: float
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_pfd_hz: float
    f_vco_hz: float


def _ice40_filter_range(f_pfd_hz: float) -> int:
    # The loop-filter setting icepll picks for the PFD frequency (upper bounds in MHz).
    for bound_mhz, setting in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if f_pfd_hz < bound_mhz * 1e6:
            return setting
    return 6


def _check_request(name: str, f_in_hz: float, f_out_hz: float, f_in_range, f_out_range):
    if not f_in_range[0] <= f_in_hz <= f_in_range[1]:
        raise PLLError(f"{name}: input clock {f_in_hz / 1e6:g} MHz is outside "
                       f"{f_in_range[0] / 1e6:g}..{f_in_range[1] / 1e6:g} MHz")
    if not f_out_range[0] <= f_out_hz <= f_out_range[1]:
        raise PLLError(f"{name}: requested clock {f_out_hz / 1e6:g} MHz is outside what the PLL "
                       f"makes, {f_out_range[0] / 1e6:g}..{f_out_range[1] / 1e6:g} MHz")


def _check_found(name: str, f_in_hz: float, f_out_hz: float, found):
    if found is None:
        raise PLLError(f"{name}: no divider setting makes {f_out_hz / 1e6:g} MHz from "
                       f"{f_in_hz / 1e6:g} MHz")


def ice40_pll(f_in_hz: float, f_out_hz: float) -> ICE40PLL:
    """The SIMPLE-feedback setting closest to `f_out_hz`; ties keep the first found, in icepll's
    search order (DIVR, then DIVF, then DIVQ ascending), so the result equals icepll's."""
    _check_request("iCE40 PLL", f_in_hz, f_out_hz, ICE40_F_IN, ICE40_F_OUT)
    best = None
    for divr in ICE40_DIVR:
        f_pfd = f_in_hz / (divr + 1)
        if not ICE40_F_PFD[0] <= f_pfd <= ICE40_F_PFD[1]:
            continue
        for divf in ICE40_DIVF:
            f_vco = f_pfd * (divf + 1)
            if not ICE40_F_VCO[0] <= f_vco <= ICE40_F_VCO[1]:
                continue
            for divq in ICE40_DIVQ:
                f_out = f_vco / 2 ** divq
                if best is None or abs(f_out - f_out_hz) < abs(best.f_out_hz - f_out_hz):
                    best = ICE40PLL(f_in_hz, f_out, divr, divf, divq, _ice40_filter_range(f_pfd),
                                    f_pfd, f_vco)
    _check_found("iCE40 PLL", f_in_hz, f_out_hz, best)
    return best


# ECP5 EHXPLLL limits (ECP5 sysCLOCK PLL/DLL Design and Usage Guide, TN1263), as in ecppll.
ECP5_F_IN = (8e6, 400e6)
ECP5_F_PFD = (3.125e6, 400e6)
ECP5_F_VCO = (400e6, 800e6)
ECP5_F_OUT = (3.125e6, 400e6)
ECP5_CLKI_DIV = range(1, 129)
ECP5_CLKFB_DIV = range(1, 81)
ECP5_CLKOP_DIV = range(1, 129)
ECP5_VCO_OPTIMAL = (ECP5_F_VCO[0] + ECP5_F_VCO[1]) / 2


@dataclass(frozen=True)
class ECP5PLL:
    """EHXPLLL settings with CLKOP as feedback: f_out = f_in * CLKFB_DIV / CLKI_DIV and
    f_vco = f_out * CLKOP_DIV."""
    f_in_hz: float
    f_out_hz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_pfd_hz: float
    f_vco_hz: float

    @property
    def clkop_cphase(self) -> int:
        # CLKOP at 0 degrees: the coarse phase counter runs a full output period (as Diamond
        # and LiteX set it); with CLKOP as feedback the phase is aligned to CLKI either way.
        return self.clkop_div - 1


def ecp5_pll(f_in_hz: float, f_out_hz: float) -> ECP5PLL:
    """The setting closest to `f_out_hz`; among equally close ones, the VCO nearest the middle
    of its range (as ecppll chooses)."""
    _check_request("ECP5 PLL", f_in_hz, f_out_hz, ECP5_F_IN, ECP5_F_OUT)
    best, best_key = None, None
    for clki_div in ECP5_CLKI_DIV:
        f_pfd = f_in_hz / clki_div
        if not ECP5_F_PFD[0] <= f_pfd <= ECP5_F_PFD[1]:
            continue
        for clkfb_div in ECP5_CLKFB_DIV:
            f_out = f_pfd * clkfb_div
            # Only the output dividers that put the VCO inside its range.
            lowest = max(ECP5_CLKOP_DIV.start, math.ceil(ECP5_F_VCO[0] / f_out))
            highest = min(ECP5_CLKOP_DIV.stop - 1, math.floor(ECP5_F_VCO[1] / f_out))
            for clkop_div in range(lowest, highest + 1):
                f_vco = f_out * clkop_div
                key = (abs(f_out - f_out_hz), abs(f_vco - ECP5_VCO_OPTIMAL))
                if best_key is None or key < best_key:
                    best_key = key
                    best = ECP5PLL(f_in_hz, f_out, clki_div, clkfb_div, clkop_div, f_pfd, f_vco)
    _check_found("ECP5 PLL", f_in_hz, f_out_hz, best)
    return best
