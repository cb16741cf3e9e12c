"""bench/cells.py on a hand-made netlist: LUTs and flip-flops counted under the hierarchy of
the net they drive, a flip-flop without a LUT of its own in front counted as alone, bad files
refused."""

import json

from bench import cells


def cell(kind, **ports):
    outputs = {"O", "Q"}
    return {"type": kind, "connections": {p: bits for p, bits in ports.items()},
            "port_directions": {p: ("output" if p in outputs else "input") for p in ports}}


NETLIST = {"modules": {"top": {
    "netnames": {
        "device.core.router.sum": {"bits": [2]}, "$abc$42": {"bits": [2, 5]},
        "device.core.router.held": {"bits": [3]},
        "device.link.byte": {"bits": [4]}, "device.link.copy": {"bits": [6]},
        "device.link.in": {"bits": [7]}, "device.link.alone": {"bits": [9]},
    },
    "cells": {
        "l1": cell("SB_LUT4", I0=[7], O=[2]),          # router LUT
        "f1": cell("SB_DFF", D=[2], Q=[3]),            # router FF behind a LUT that also feeds c1: alone
        "l2": cell("SB_LUT4", I0=[3], O=[4]),          # link LUT
        "f2": cell("SB_DFFE", D=[4], Q=[6]),           # link FF behind a LUT
        "f3": cell("SB_DFF", D=[7], Q=[9]),            # link FF fed by no LUT: alone
        "l3": cell("SB_LUT4", I0=[7], O=[5]),          # only a $ name: group "$abc$42"
        "c1": cell("SB_CARRY", I0=[2], CO=[8]),        # not counted
    },
}}}


def test_cells_are_counted_under_the_net_they_drive():
    groups = cells.cell_groups(NETLIST, depth=3)
    assert groups["device.core.router"] == {"lut": 1, "ff": 1, "ff_alone": 1}
    assert groups["device.link.byte"] == {"lut": 1}
    assert groups["device.link.copy"] == {"ff": 1}
    assert groups["device.link.alone"] == {"ff": 1, "ff_alone": 1}
    assert groups["$abc$42"] == {"lut": 1}
    assert sum(g["lut"] for g in groups.values()) == 3        # the SB_CARRY is not a LUT
    coarse = cells.cell_groups(NETLIST, depth=2)
    assert coarse["device.link"] == {"lut": 1, "ff": 2, "ff_alone": 1}


def test_report_lists_the_biggest_groups_and_the_total():
    text = cells.report(cells.cell_groups(NETLIST, depth=2), top=1)
    lines = text.splitlines()
    assert lines[2].startswith("| device.core | 1 | 1 | 1 |")     # a tie with device.link: by name
    assert "(2 more groups)" in text
    assert lines[-1] == "| **total** | 3 | 3 | 2 |"


def test_bad_netlists_are_refused_by_name(tmp_path, capsys):
    garbage = tmp_path / "top.json"
    garbage.write_text("{not json")
    assert cells.main([str(garbage)]) == 2
    assert "top.json" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"modules": {"x": {}}}))
    assert cells.main([str(other)]) == 2
    assert "no module 'top'" in capsys.readouterr().err
