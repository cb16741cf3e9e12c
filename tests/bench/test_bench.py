"""The computations behind `python -m bench`, on given numbers: regenerating docs/benchmarks.md
section by section, the energy table, the link-limited rate from the protocol's bytes, the
core-limited rate, the Fmax of the committed build and the choice of sections."""

import pytest

from bench import __main__ as runner
from bench import bandwidth, energy, report, throughput
from bench.report import BenchError
from firmware import protocol as P

DOC = """# Benchmarks

Intro.

## Alpha

alpha 1

### (a) sub

kept with alpha

## Beta

beta 1

## Gamma

gamma 1
"""


def test_replace_section_changes_only_that_section():
    text = report.replace_section(DOC, "Beta", "beta 2")
    header, sections = report.split_sections(text)
    assert header == "# Benchmarks\n\nIntro.\n\n"
    assert [t for t, _ in sections] == ["Alpha", "Beta", "Gamma"]
    assert dict(sections)["Alpha"] == dict(report.split_sections(DOC)[1])["Alpha"]
    assert dict(sections)["Beta"] == "## Beta\n\nbeta 2\n"
    assert "beta 1" not in text and "gamma 1" in text and "kept with alpha" in text
    # a `###` heading belongs to its section: replacing Alpha replaces it too
    assert "kept with alpha" not in report.replace_section(DOC, "Alpha", "alpha 2")


def test_a_new_section_is_appended_and_arrange_orders_them():
    text = report.replace_section(DOC, "Delta", "delta 1")
    assert [t for t, _ in report.split_sections(text)[1]] == ["Alpha", "Beta", "Gamma", "Delta"]
    ordered = report.arrange(text, ["Gamma", "Alpha"])
    assert [t for t, _ in report.split_sections(ordered)[1]] == ["Gamma", "Alpha", "Beta", "Delta"]
    assert report.set_header(ordered, "# New\n").startswith("# New\n\n## Gamma\n")


def test_update_section_writes_one_section_of_the_file(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text(DOC)
    report.update_section("Gamma", "gamma 2", path)
    assert path.read_text() == DOC.replace("gamma 1", "gamma 2")


def test_energy_is_current_times_voltage_times_time():
    # 24 cycles at 24 MHz = 1 us; 1 mA x 1.2 V x 1 us = 1.2 nJ
    assert energy.joules(24, 1.0, 24e6, 1.2) == pytest.approx(1.2e-9)
    rows = [("synaptic operation", 1.06), ("1 ms tick", 24_000)]
    text = energy.table(rows, [("given", 10.0)], 24e6, 1.2)
    lines = text.splitlines()
    assert lines[0] == "| event | cycles | time at 24 MHz | given: 10 mA |"
    assert lines[2] == "| synaptic operation | 1.06 | 44 ns | 530 pJ |"      # 10 mA x 1.2 V x 44.2 ns
    assert lines[3] == "| 1 ms tick | 24,000.00 | 1 ms | 12 uJ |"
    with pytest.raises(BenchError, match="positive current"):
        energy.joules(10, 0.0, 24e6)


def test_energy_rows_come_from_the_measured_cycles():
    thr = {"per_event": {"empty_tick": 256.0, "input_event": 32.0, "spike": 40.0, "fanout": 32},
           "n_neurons": 256, "clock_hz": 24e6}
    stdp = {"kinds": [{"mode": "LTD", "cycles_per_update": 1.0}, {"mode": "LTP", "cycles_per_update": 2.0}]}
    cycles = dict(energy.event_cycles(thr, stdp))
    assert cycles["neuron update (empty tick / neurons)"] == 1.0
    assert cycles["synaptic operation (input event / fan-out)"] == 1.0
    assert cycles["spike, fan-out 32"] == 40.0
    assert (cycles["LTD update"], cycles["LTP update"]) == (1.0, 2.0)
    assert cycles["1 ms tick, any activity"] == 24_000


def test_frame_bytes_bound_an_actually_encoded_input_frame():
    low = list(range(127)) + [P.TICK_END]                    # axons < 256: a zero in every entry
    frame = P.encode_frame(P.Op.INPUT, 7, P.encode_input_entries(low))
    assert len(frame) == 2 * len(low) + P.HEADER_SIZE + P.CRC_SIZE + 2      # one COBS byte, one 0x00
    assert bandwidth.frame_wire_bytes(2 * len(low)) >= len(frame)
    high = [0x0101 + k for k in range(127)]                  # no zero byte in the entries
    assert bandwidth.frame_wire_bytes(2 * len(high)) >= len(P.encode_frame(P.Op.INPUT, 1, P.encode_input_entries(high)))


def test_link_rate_from_the_host_batches():
    # iCEBreaker: 256-byte payloads (128 entries), 256-entry queue (batches of >= 64 entries).
    # 255 events a tick: 256 entries in two frames of 128, then a STEP, each tick
    batch = bandwidth.host_batch(255, 256, 256)
    group = list(range(255)) + [P.TICK_END]
    frames = [P.encode_frame(P.Op.INPUT, 0, P.encode_input_entries(group[:128])),
              P.encode_frame(P.Op.INPUT, 0, P.encode_input_entries(group[128:])),
              P.encode_frame(P.Op.STEP, 0, P.STEP.pack(1))]
    assert batch == {"ticks": 1, "events": 255, "wire": sum(map(len, frames)), "frames": 3}
    assert bandwidth.link_rate(255, 3_000_000, 256, 256) == pytest.approx(255 / batch["wire"] * 300_000)
    # 1 event a tick: 32 ticks of 2 entries fill the quarter (64 entries) in one frame
    small = bandwidth.host_batch(1, 256, 256)
    assert (small["ticks"], small["events"], small["frames"]) == (32, 32, 2)
    with pytest.raises(BenchError, match="holds 256 entries"):
        bandwidth.host_batch(256, 256, 256)


@pytest.mark.parametrize("k, ticks", [(255, 12), (16, 64)])
def test_link_bytes_match_what_the_host_sends(k, ticks):
    from boards.registry import ICEBREAKER_CONFIG
    measured = bandwidth.measured_host_bytes(k, ticks, ICEBREAKER_CONFIG, 256, 256)
    batch = bandwidth.host_batch(k, 256, 256)
    assert measured["equal"]
    assert ticks % batch["ticks"] == 0
    expected = ticks // batch["ticks"] * batch["wire"]
    assert abs(measured["bytes"] - expected) <= bandwidth.frame_wire_bytes(P.STEP.size)


def test_core_limit_is_the_least_of_cycles_axons_and_queue():
    per = {"empty_tick": 275.0, "input_event": 34.0}
    limits = bandwidth.core_limits(per, 24e6, 256, 256)
    assert limits["by_cycles"] == (24_000 - 275) // 34 == 697
    assert limits["per_tick"] == 255 and limits["per_s"] == 255_000
    assert bandwidth.core_limits({"empty_tick": 275.0, "input_event": 340.0}, 24e6, 256, 256)["per_tick"] == 69


def test_throughput_rates_and_per_event_slopes():
    raw = [{"ticks": 5, "events": e, "spikes": 5 * s, "synaptic_events": 5 * 32 * (e + s),
            "cycles_per_tick": 275 + 34 * e + 37 * s, "max_cycles_per_tick": 280 + 34 * e + 37 * s}
           for e, s in ((0, 0), (16, 0), (255, 0), (0, 64), (0, 256))]
    rows = throughput.rates(raw, 256, 24e6)
    assert rows[0]["updates_per_s"] == pytest.approx(256 * 24e6 / 275)
    assert rows[2]["sop_per_s"] == pytest.approx(255 * 32 * 24e6 / (275 + 34 * 255))
    assert rows[2]["margin"] == pytest.approx(24_000 / (280 + 34 * 255))
    per = throughput.per_event_cycles(rows)
    assert per["input_event"] == pytest.approx(34) and per["spike"] == pytest.approx(37)
    assert per["empty_tick"] == 275


def test_fmax_is_read_from_the_committed_board_builds():
    table = ("| board | configuration | logic | block RAM | SPRAM | DSP | Fmax (MHz) | result |\n"
             "| iCEBreaker (iCE40UP5K) | default | 5,210 of 5,280 LC | 30 of 30 EBR | 4 of 4 | 8 of 8 "
             "| 24.16 (24.16) | fits |\n")
    assert throughput.committed_fmax(table) == 24.16
    assert throughput.committed_fmax() > 0          # the committed docs/benchmarks.md has one
    with pytest.raises(BenchError, match="--fmax"):
        throughput.committed_fmax("no table here")


def test_sections_are_chosen_by_name_and_builds_only_when_asked():
    args = type("A", (), {"only": None, "builds": False})
    names = [s.name for s in runner.select(args)]
    assert "frontier" not in names and "core" in names and "boards" not in names
    args.builds = True
    assert "frontier" in [s.name for s in runner.select(args)]
    args.only = ["stdp", "frontier"]
    assert [s.name for s in runner.select(args)] == ["stdp", "frontier"]
    args.only = ["nope"]
    with pytest.raises(BenchError, match="no section named nope"):
        runner.select(args)
    args.only = ["boards"]
    with pytest.raises(BenchError, match="kept as committed"):
        runner.select(args)


def test_bench_cli_lists_and_refuses_unknown_sections(capsys):
    assert runner.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(s.name in out for s in runner.SECTIONS)
    assert runner.main(["--only", "nope"]) == 2
    assert "no section named nope" in capsys.readouterr().err


def test_header_names_every_section_and_the_options():
    text = runner.header()
    for s in runner.SECTIONS:
        assert f"| `{s.name}` | {s.title} |" in text
    for option in ("--only", "--list", "--builds", "--fmax", "--core-current-ma"):
        assert option in text


def test_frontier_rows_carry_no_temporary_path(monkeypatch):
    import json
    import subprocess
    from pathlib import Path

    from bench import frontier

    def fake_build(args, **_):
        out = args[args.index("--out") + 1]
        Path(out, "summary.json").write_text(json.dumps({
            "ok": False, "failures": [f"place and route failed; see {out}/top.tim"],
            "resources": {}, "fmax_mhz": None}))
        return subprocess.CompletedProcess(args, 1, "", "")
    monkeypatch.setattr(frontier.subprocess, "run", fake_build)
    summary = frontier.build(frontier.LADDER[0], 24.0, 1)
    assert summary["failures"] == ["place and route failed; see <build dir>/top.tim"]


def test_crossing_network_sends_one_packet_per_spike_and_other_core():
    """bench/multicore.py divides by the packets the crossing network makes: each of the
    `spikers` of each core fires every tick, and the routing table gives it one entry per other
    core."""
    import numpy as np

    from firmware import CoreConfig
    from bench.networks import crossing_network
    from sim.multicore import MultiCoreModel

    config = CoreConfig(n_neurons=32, n_inputs=128, n_synapses=4096, n_segments=1024, n_reverse=256)
    multi = crossing_network(config, 3, spikers=5, fanout=2)
    fired = MultiCoreModel(multi).run(4, record_all=True)
    packets = 0
    for k in range(3):
        ptr, _, _ = multi.routes(k)
        local = multi.neuron_local[fired.all_neurons[multi.neuron_core[fired.all_neurons] == k]]
        packets += int(np.sum(ptr[local + 1] - ptr[local]))
    assert fired.all_neurons.size == 4 * 3 * 5
    assert packets == 4 * 3 * 5 * 2
