"""Gate-level simulation of what is built: the core synthesized with the iCEBreaker build's own
yosys script (sim/cosim/gate_level.py: synth_ice40 -dsp -dff, abc9 without &scorr, the MAC black
box renamed to SB_MAC16), written with `write_verilog -noattr`, on Verilator with yosys's
simulation models of the iCE40 cells (share/ice40/cells_sim.v), against the golden model with
the regression's driver (tests/rtl/core/cocotb_core.py): every tick's spikes, then u, v, ref, traces,
accumulators, weights, LFSR and counters, plastic networks included.

CI: three seeds of the regression's configuration (two without STDP, one plastic), and one
deliberately wrong netlist that must fail; `-m slow`: 100 seeds of the default iCEBreaker
configuration and the other two wrong netlists. AXONITE_SEEDS (with AXONITE_PLASTIC) replaces
a run's seeds, as a failure's "reproduce" line says.
"""

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support.random_networks import REGRESSION_CONFIG

HERE = Path(__file__).resolve().parent
THIS = "python -m pytest tests/rtl/test_gate_level.py"
# Seeds 0 and 1 are networks without STDP, 100 made plastic: every engine and the MAC compute.
CI_SEEDS = (("0-1", ""), ("100", "1"))
# One wrong cell at a time: (instance, parameter or pin, its value, the wrong value). The
# weight update's SB_MAC16 (our own parameters) multiplying a unsigned: negative learning rates
# become large positive ones; the synapse SPRAM's low nibble never written (MASKWREN bit 0):
# the target offsets' low bits stay 0; a neuron-state EBR written in 256 x 16 and read in
# 512 x 8: its odd data bits read as 0. (An EBR written in 512 x 8 and read in 256 x 16 would
# not do: cells_sim.v puts words 0-255 on the pins a 256 x 16 read returns, so only addresses
# from 256 up would differ.)
MUTATIONS = {
    "mac16_a_signed": (r"\updater.multiply_add.mac", "A_SIGNED", "32'd1", "32'd0"),
    "spram_maskwren": (r"\mem_synapse.spram0_0", "MASKWREN", "4'hf", "4'he"),
    "ebr_read_mode": (r"\mem_state.ebr_0_0", "READ_MODE", "32'd0", "32'd1"),
}
# Simulated time a mutant's run may take: an unmutated run of the mutation seed takes about
# 0.3 ms; a mutant that never goes idle fails here instead of hanging.
MUTANT_TIMEOUT_US = 5_000
MUTANT_SEEDS = "100"          # plastic (the MAC only computes in STDP)
CI_MUTATION = "mac16_a_signed"


@pytest.fixture(scope="module")
def regression_netlist():
    from sim.cosim.gate_level import synthesize_core

    return synthesize_core(REGRESSION_CONFIG)


def seeds_or(default):
    """[(seeds, plastic)]: AXONITE_SEEDS and AXONITE_PLASTIC when set (a reproduction), else `default`."""
    if os.environ.get("AXONITE_SEEDS"):
        return [(os.environ["AXONITE_SEEDS"], os.environ.get("AXONITE_PLASTIC", ""))]
    return list(default)


def run_regression(build, config, seeds: str, plastic: str = "", timeout_us=None, reproduce=THIS) -> list[str]:
    """The cocotb regression on a gate-level build: the messages of its failures (none when
    every seed equals the model)."""
    from sim.cosim.verilator import cocotb_failures, run_cocotb

    env = {"AXONITE_SEEDS": seeds, "AXONITE_PLASTIC": plastic, "AXONITE_REPRODUCE": reproduce,
           "AXONITE_TIMEOUT_US": "" if timeout_us is None else str(timeout_us)}
    if config != REGRESSION_CONFIG:
        env["AXONITE_CONFIG"] = json.dumps(config.to_dict())
    return cocotb_failures(run_cocotb(build, "tests.rtl.core.cocotb_core", HERE, env))


def mutate(text: str, instance: str, name: str, value: str, wrong: str) -> str:
    """`text` with the parameter or pin `name` of cell `instance` changed from `value` to
    `wrong`; fails unless exactly that one substitution is made."""
    header = re.search(rf"^  (?:\) |SB_\w+ ){re.escape(instance)} +\(\n", text, re.M)
    assert header, f"no cell {instance} in the netlist"
    start = text.rindex("\n  SB_", 0, header.start()) + 1
    end = text.index("\n  );\n", header.end())
    cell = text[start:end]
    setting = f".{name}({value})"
    assert cell.count(setting) == 1, f"{instance}: {setting} {cell.count(setting)} times in\n{cell}"
    mutant = text[:start] + cell.replace(setting, f".{name}({wrong})") + text[end:]
    assert mutant != text and len(mutant) == len(text) + len(wrong) - len(value)
    return mutant


def test_netlist_is_the_board_synthesis(regression_netlist):
    """The netlist comes from the board flow's script and holds iCE40 cells only: the MAC black
    box renamed, the memories as SB_RAM40_4K and SB_SPRAM256KA, no generic cell left."""
    from boards.flow import synthesis_options
    from boards.registry import ABC9_SCRIPT, board
    from rtl.lib.dsp import MAC_CELL, RENAME_MAC
    from sim.cosim.gate_level import DESIGN, NETLIST, cell_types

    script = (regression_netlist.directory / f"{DESIGN}.ys").read_text().splitlines()
    # the board build's options, in the board build's order, then the netlist written
    options = synthesis_options(board("icebreaker"), DESIGN)
    expected = [options["script_after_read"], f"synth_ice40 {options['synth_opts']} -top {DESIGN}",
                *options["script_after_synth"].splitlines(), f"write_verilog -noattr {NETLIST}"]
    start = script.index(expected[0])
    assert script[start:start + len(expected)] == expected
    assert ABC9_SCRIPT in expected and RENAME_MAC in expected and "-dsp" in options["synth_opts"]
    text = regression_netlist.text
    assert MAC_CELL not in text
    types = cell_types(text)
    assert {"SB_LUT4", "SB_CARRY", "SB_RAM40_4K", "SB_SPRAM256KA", "SB_MAC16"} <= set(types)
    # every instance is an iCE40 cell, as many of each as yosys counted: no yosys-internal
    # or unmapped cell (yosys's $scopeinfo, which only names the hierarchy, writes nothing)
    instances = Counter(re.findall(r"^  (?!\) )(\S+) (?:#\(|\S+ +\()", text, re.M))
    assert set(instances) == set(types)
    assert instances == {kind: n for kind, n in regression_netlist.cells.items() if kind != "$scopeinfo"}


def test_synthesis_refusals(tmp_path, monkeypatch):
    """Each bad request is refused with the project's error naming what is wrong, before or
    instead of a netlist; a failed synthesis names its log and leaves no netlist to reuse."""
    import sim.cosim.gate_level as gate_level
    from boards.registry import BoardError
    from boards.tools import ToolError
    from firmware import CoreConfig
    from firmware.errors import ConfigError

    monkeypatch.setattr(gate_level, "BUILD_ROOT", tmp_path / "gate-level")
    with pytest.raises(BoardError, match="unknown board 'nope'"):
        gate_level.synthesize_core(REGRESSION_CONFIG, "nope")
    with pytest.raises(BoardError, match="ulx3s is ecp5"):
        gate_level.synthesize_core(REGRESSION_CONFIG, "ulx3s")
    with pytest.raises(ToolError, match="YOSYS"):
        gate_level.synthesize_core(REGRESSION_CONFIG, environ={"YOSYS": str(tmp_path / "no-yosys")})
    with pytest.raises(ConfigError, match="SB_SPRAM256KA"):
        gate_level.synthesize_core(CoreConfig(n_synapses=5 * 16384), environ={"YOSYS": "true"})
    failing = tmp_path / "yosys"
    failing.write_text("#!/bin/sh\necho 'ERROR: out of luck'\nexit 3\n")
    failing.chmod(0o755)
    for attempt in range(2):      # the second finds no finished netlist and runs yosys again
        with pytest.raises(ToolError, match=r"yosys exit 3 .*yosys\.log"):
            gate_level.synthesize_core(REGRESSION_CONFIG, environ={"YOSYS": str(failing)})
    log, = (tmp_path / "gate-level").glob("icebreaker-*/yosys.log")
    assert "out of luck" in log.read_text()


def test_undefined_values_are_not_zero(regression_netlist):
    """The gate-level build draws undefined values at random, not 0 (so the runs below show
    the core relies on none being 0): the SPRAM's power-on words are not 0
    (cocotb_power_on.py)."""
    from sim.cosim.gate_level import build_netlist
    from sim.cosim.verilator import cocotb_failures, run_cocotb

    failures = cocotb_failures(run_cocotb(build_netlist(regression_netlist), "tests.rtl.cocotb_power_on", HERE))
    assert not failures, "\n".join(failures)


def test_gate_level_equals_model(regression_netlist):
    """Random networks on the synthesized core (CI_SEEDS)."""
    from sim.cosim.gate_level import build_netlist

    build = build_netlist(regression_netlist)
    failures = []
    for seeds, plastic in seeds_or(CI_SEEDS):
        failures += run_regression(build, REGRESSION_CONFIG, seeds, plastic)
    assert not failures, "\n".join(failures)


def mutant_is_caught(netlist, mutation: str):
    from sim.cosim.gate_level import build_netlist

    text = mutate(netlist.text, *MUTATIONS[mutation])
    build = build_netlist(netlist, text, name=f"gate-level-{mutation.replace('_', '-')}")
    failures = run_regression(build, REGRESSION_CONFIG, MUTANT_SEEDS, "1", MUTANT_TIMEOUT_US)
    assert failures, f"the netlist with {mutation} {MUTATIONS[mutation]} equals the model"
    # caught by the comparison, not by the simulation breaking
    assert any("differ" in failure for failure in failures), "\n".join(failures)


def test_mutant_netlist_fails(regression_netlist):
    """A wrong SB_MAC16 parameter in the synthesized netlist fails the comparison (one mutant
    in CI: each is a Verilator build of its own)."""
    mutant_is_caught(regression_netlist, CI_MUTATION)


@pytest.mark.slow
@pytest.mark.parametrize("mutation", sorted(set(MUTATIONS) - {CI_MUTATION}))
def test_other_mutant_netlists_fail(regression_netlist, mutation):
    """A wrong SPRAM write mask and a wrong EBR read mode fail it too."""
    mutant_is_caught(regression_netlist, mutation)


@pytest.mark.slow
def test_gate_level_default_configuration_100_seeds():
    """The default iCEBreaker configuration (what the board builds), seeds 0-99."""
    from boards.registry import ICEBREAKER_CONFIG
    from sim.cosim.gate_level import build_netlist, synthesize_core

    build = build_netlist(synthesize_core(ICEBREAKER_CONFIG), name="gate-level-default")
    failures = []
    for seeds, plastic in seeds_or([("0-99", "")]):
        failures += run_regression(build, ICEBREAKER_CONFIG, seeds, plastic,
                                   reproduce=f"{THIS} -m slow -k default_configuration")
    assert not failures, "\n".join(failures)
