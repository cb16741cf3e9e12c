"""The doctor's layers that test a device once it answers HELLO (host/doctor.py opens it):
link (WRITE and READ of a scratch region, every error counted), core (the reference network on
the device and on the golden model, bit for bit) and freerun (a 1 ms tick, its spikes and the
device's clock). DeviceLayers is mixed into Doctor, whose state (dev, transport, frames, ticks,
freerun_s, seed, board, native, baudrate) it uses.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from firmware import formats
from firmware import protocol as P
from firmware.compiler import compile_network
from firmware.config import CoreConfig
from firmware.errors import CapacityError, ConfigError, NetworkError
from firmware.image import Image
from firmware.network import FixedProbability, Network, STDPRule

from .device import Device
from .doctor_report import LayerFailed
from .errors import DeviceError, DeviceTimeoutError, FrameError
from .link import OverrunWarning

TICK_S = 1e-3
CLOCK_TOLERANCE = 0.05      # freerun: a board's measured clock within 5 % of what it reports
RETRIES = 3                 # link: attempts after the first, per WRITE + READ
SEED = 0x5EED_1234          # the LFSR seed the core layer sets (SEED command)
REPROGRAM = "python -m boards.build {board} --program"


# --- the reference network --------------------------------------------------------------------

# (inputs, excitatory, output neurons, p input->exc, p exc->exc, p exc->out), largest first: the
# first that the configuration holds is used.
REFERENCE_SIZES = ((8, 8, 4, 0.5, 0.2, 0.4), (6, 6, 4, 0.3, 0.2, 0.2), (4, 4, 2, 0.3, 0.2, 0.3),
                   (2, 2, 1, 0.5, 0.0, 0.5))
PLASTIC = ("in_exc", "exc_out")


def reference_network(config: CoreConfig, stdp: bool = True, sizes=REFERENCE_SIZES[0]) -> Network:
    """Inputs -> excitatory neurons with STDP, excitatory -> excitatory inhibitory with a delay,
    excitatory -> output with another STDP rule (signed bounds) and a longer delay; biases that
    make some neurons fire without input (free-run). All of it recorded."""
    n_in, n_exc, n_out, p_in, p_rec, p_out = sizes
    lo, hi = formats.signed_range(config.weight_bits)

    def weight(value: int) -> int:            # within what the configuration's weights hold
        return int(np.clip(value, lo, hi))

    def rule(w_min: int = 0, w_max: int = 127, **options) -> STDPRule | None:
        return STDPRule(w_min=weight(w_min), w_max=weight(w_max), **options) if stdp else None

    net = Network("doctor_reference")
    inp = net.inputs("in", min(n_in, config.n_inputs))
    exc = net.population("exc", n_exc, du=400, dv=200, vth=30, refractory=1,
                         bias_mant=[0, 120, 0, 200, 0, 0, 150, 0][:n_exc])
    out = net.population("out", n_out, du=1000, dv=100, vth=20, bias_mant=3)
    net.connect(inp, exc, FixedProbability(p_in, seed=11), weight=weight(60), stdp=rule(), name="in_exc")
    if p_rec and config.max_delay >= 2:
        net.connect(exc, exc, FixedProbability(p_rec, seed=12), weight=weight(-20), delay=2, name="exc_exc")
    net.connect(exc, out, FixedProbability(p_out, seed=13), weight=weight(25), delay=min(3, config.max_delay),
                stdp=rule(a_plus=40, a_minus=-50, w_min=-10, w_max=90), name="exc_out")
    net.record(exc)
    net.record(out)
    return net


def reference_image(config: CoreConfig, stdp: bool = True) -> Image:
    """The reference network compiled for `config`, in the largest size it holds;
    CapacityError when it holds none (a core smaller than 4 neurons and 2 projections)."""
    last = None
    for sizes in REFERENCE_SIZES:
        if sizes[1] + sizes[2] > config.n_neurons:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # InputWrapWarning cannot arise at these sizes
                return compile_network(reference_network(config, stdp, sizes), config)
        except (CapacityError, NetworkError, ConfigError) as error:
            last = error
    raise CapacityError(f"the core ({config}) holds no size of the doctor's reference network"
                        f"{': ' + str(last) if last else ''}")


class DeviceLayers:
    """The link, core and freerun layers of Doctor (each returns status, summary, fix, details
    or raises LayerFailed)."""

    def _scratch_region(self):
        regions = formats.memory_map(self.dev.config)
        usable = [regions[name] for name in formats.STATE_REGIONS if name not in ("counters", "lfsr_state")]
        return max(usable, key=lambda r: (r.depth * P.word_bytes(r), -r.index))

    def _link(self):
        dev, transport = self.dev, self.transport
        region = self._scratch_region()
        nbytes = P.word_bytes(region)
        per = min(region.depth, P.max_words(nbytes, dev.link.max_payload))
        mask = np.uint64((1 << region.layout.width) - 1)
        rng = np.random.default_rng(self.seed)
        counts = {"corrupt_from_device": 0, "unreadable_at_device": 0, "lost": 0}
        commands = retries = 0
        in0, out0 = transport.bytes_in, transport.bytes_out
        t0 = time.monotonic()
        errors: list[str] = []
        for _ in range(self.frames // 2):
            count = int(rng.integers(1, per + 1)) if per > 1 else 1
            addr = int(rng.integers(0, region.depth - count + 1))
            words = rng.integers(0, np.iinfo(np.uint64).max, count, dtype=np.uint64, endpoint=True) & mask
            for attempt in range(RETRIES + 1):
                try:
                    commands += 1
                    dev.write_region(region.name, words, addr)
                    commands += 1
                    back = dev.read_region(region.name, addr, count)
                    break
                except FrameError as error:
                    kind, message = ("lost" if error.code is None else "corrupt_from_device"), str(error)
                except DeviceError as error:
                    if error.command is not None:       # a sound frame refused: not the line
                        raise LayerFailed(f"the device refused a {error.command} of region {region.name} "
                                          f"({count} words at {addr}): {error}",
                                          f"the bitstream and this host disagree about the memory map: "
                                          f"rebuild and reprogram from this source tree "
                                          f"({REPROGRAM.format(board=self.board or 'icebreaker')})") from None
                    kind, message = "unreadable_at_device", str(error)
                except DeviceTimeoutError as error:
                    kind, message = "lost", str(error)
                counts[kind] += 1
                if len(errors) < 5:
                    errors.append(message)
                if attempt == RETRIES:
                    raise LayerFailed(
                        f"a WRITE + READ of {count} words failed {RETRIES + 1} times in a row after "
                        f"{commands} commands ({self._error_text(counts)})",
                        self._link_fix(), **self._link_details(counts, commands, retries, in0, out0, t0,
                                                               region, errors))
                retries += 1
            if not np.array_equal(back, words):
                k = int(np.nonzero(back != words)[0][0])
                raise LayerFailed(
                    f"read back {region.name}[{addr + k}] = {int(back[k]):#x}, written {int(words[k]):#x}, "
                    f"and no frame failed its CRC", "the device's memory or link logic is faulty: rebuild "
                    "and reprogram; if it persists, attach the --json report to a bug report",
                    **self._link_details(counts, commands, retries, in0, out0, t0, region, errors))
        details = self._link_details(counts, commands, retries, in0, out0, t0, region, errors)
        summary = (f"{commands} commands (WRITE, READ of {region.name}) and their replies, "
                   f"{details['bytes']:,} bytes in {details['seconds']:.1f} s: "
                   f"{self._error_text(counts)}, {retries} retries; {details['bit_errors']}")
        if sum(counts.values()):
            raise LayerFailed(summary, self._link_fix(), **details)
        return "pass", summary, None, details

    @staticmethod
    def _error_text(counts) -> str:
        return (f"{counts['corrupt_from_device']} corrupt frames from the device (CRC), "
                f"{counts['unreadable_at_device']} the device could not read, {counts['lost']} lost")

    def _link_fix(self) -> str:
        if not self.native:
            return ("bytes are corrupted or lost between this host and the device: a proxy or bridge on "
                    "the way, or the device's own link; on a board, run the doctor on its serial port")
        board = self.board or "icebreaker"
        return (f"frames were corrupted or lost at {self.baudrate} baud: a marginal baud rate or a poor "
                f"USB connection. Try another cable or USB port (no hub); or a lower baud rate, built "
                f"and opened alike: python -m boards.build {board} --baud 1000000 --program, then "
                f"--baud 1000000 (Device.open(port, baudrate=1000000))")

    def _link_details(self, counts, commands, retries, in0, out0, t0, region, errors) -> dict:
        seconds = max(time.monotonic() - t0, 1e-9)
        nbytes = (self.transport.bytes_in - in0) + (self.transport.bytes_out - out0)
        bits = 10 * nbytes                    # 8N1: start, 8 data, stop
        n_errors = sum(counts.values())
        if n_errors:
            ber, text = n_errors / bits, f"bit-error rate >= {n_errors / bits:.1e}"
        else:
            ber, text = None, f"bit-error rate < {3 / max(bits, 1):.1e} (95 %)"
        details = {"region": region.name, "commands": commands, "retries": retries, **counts,
                   "bytes": nbytes, "bits": bits, "seconds": round(seconds, 3),
                   "bytes_per_s": round(nbytes / seconds), "bit_error_rate": ber,
                   "bit_error_bound_95": None if n_errors else 3 / max(bits, 1), "bit_errors": text,
                   "first_errors": errors}
        if self.native:
            details["line_use"] = round(nbytes / seconds / (self.baudrate / 10), 3)
        return details

    # --- core ----------------------------------------------------------------------------------

    def _reference(self):
        if self.reference is None:
            stdp = P.Capability.STDP in self.dev.info["capabilities"]
            try:
                self.reference = reference_image(self.dev.config, stdp)
            except CapacityError as error:
                raise LayerFailed(f"cannot test the core: {error}",
                                  "the doctor needs a core of at least 4 neurons and 2 projections; "
                                  "build a larger configuration") from None
        return self.reference

    def _session(self, dev, image) -> list[dict]:
        """Two runs of random input (the second continues the first), with what to compare
        after each."""
        rng = np.random.default_rng(self.seed)
        n_in = image.group("in")[1]["size"]
        flags = image.table("projection")["plastic"]
        plastic = [name for name in PLASTIC if int(flags[image.projection(name)["index"]])]
        dev.load(image)
        dev.seed(SEED)
        seen = []
        first = self.ticks * 3 // 5
        for ticks, p in ((first, 0.25), (self.ticks - first, 0.4)):
            result = dev.run(ticks, rng.random((ticks, n_in)) < p)
            seen.append({"start": result.start_tick, "spikes": result.spikes,
                         "weights": {name: dev.weights(name) for name in plastic},
                         "state": {name: dev.probe(name) for name in ("u", "v", "ref", "x", "y")},
                         "counters": dev.counters()})
        return seen

    def _core(self):
        image = self._reference()
        with Device.open("model", config=self.dev.config) as model:
            want = self._session(model, image)
        got = self._session(self.dev, image)
        difference = _first_difference(want, got, image)
        totals = want[-1]["counters"]
        details = {"ticks": self.ticks, "network": {"neurons": int(image.config.n_neurons),
                                                    "synapses": int(image.tables["synapse"].size)},
                   "counters": totals, "projections": sorted(want[-1]["weights"])}
        if difference:
            raise LayerFailed(
                f"the device differs from the golden model: {difference}",
                f"the bitstream is not the gateware of this source tree, or the FPGA misbehaves "
                f"(a timing or power problem): rebuild and reprogram "
                f"({REPROGRAM.format(board=self.board or 'icebreaker')}); if it persists, attach the "
                f"--json report to a bug report", **details)
        spikes = sum(int(s["spikes"].sum()) for s in want)
        summary = (f"reference network, {self.ticks} ticks: {spikes} output spikes, "
                   f"{totals['synaptic_events']} synaptic events, {totals['plastic_updates']} plastic "
                   f"updates; spikes, weights ({', '.join(sorted(want[-1]['weights'])) or 'no STDP'}), "
                   f"state and counters equal the golden model's bit for bit")
        if not want[-1]["weights"]:
            return "warn", summary + " (the device has no STDP)", None, details
        return "pass", summary, None, details

    # --- freerun -------------------------------------------------------------------------------

    def _freerun(self):
        dev = self.dev
        if P.Capability.FREERUN not in dev.info["capabilities"]:
            return "warn", "the device cannot free-run (no FREERUN capability): not tested", None, {}
        image = self._reference()
        clock_hz = dev.info["clock_hz"]
        period = max(1, round(clock_hz * TICK_S))
        dev.load(image)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always", OverrunWarning)
            t0 = time.monotonic()
            dev.freerun(period)
            while time.monotonic() - t0 < self.freerun_s:
                dev.link.pump(min(0.05, max(0.0, self.freerun_s - (time.monotonic() - t0))))
            wall = time.monotonic() - t0
            result = dev.stop()
        counters = dev.counters()
        with Device.open("model", config=dev.config) as model:
            model.load(image)
            expected = model.run(result.ticks)
        ticks, overruns, dropped = result.ticks, counters["overruns"], counters["dropped"]
        fpga = dev.info["device_kind"] == P.DeviceKind.FPGA
        measured_hz = ticks * period / wall
        ratio = measured_hz / clock_hz
        details = {"period_cycles": period, "seconds": round(wall, 3), "ticks": ticks,
                   "expected_ticks": round(wall / TICK_S), "overruns": overruns, "dropped": dropped,
                   "output_spikes": int(result.spikes.sum()), "measured_clock_hz": round(measured_hz),
                   "clock_hz": clock_hz, "real_time_ratio": round(ratio, 4),
                   "clock_judged": self.native and fpga}
        summary = (f"{ticks} ticks in {wall:.1f} s at a {period}-cycle (1 ms) period, {overruns} "
                   f"overruns, {dropped} dropped events, {details['output_spikes']} output spikes")
        if ticks == 0:
            raise LayerFailed(summary + ": no tick ran", "the device's tick timer does not run: a clock or "
                              "bitstream problem; rebuild and reprogram", **details)
        if not np.array_equal(result.spikes, expected.spikes):
            k = int(np.nonzero((result.spikes != expected.spikes).any(axis=1))[0][0])
            raise LayerFailed(summary + f"; its spikes differ from the golden model's first at tick {k}",
                              "rebuild and reprogram; if it persists, attach the --json report to a bug report",
                              **details)
        if dropped:
            raise LayerFailed(summary, "events were dropped in free-run (an output buffer overflowed): "
                              "attach the --json report to a bug report", **details)
        if overruns and fpga:
            raise LayerFailed(summary + ": ticks of the reference network took longer than 1 ms of the "
                              "device's own cycles", "a small network cannot need that long: the core or "
                              "its link stalls; rebuild and reprogram, and if it persists attach the "
                              "--json report to a bug report", **details)
        if self.native and fpga:
            summary += (f"; the device's clock measures {measured_hz / 1e6:.3f} MHz, it reports "
                        f"{clock_hz / 1e6:g} MHz")
            if abs(ratio - 1) > CLOCK_TOLERANCE:
                raise LayerFailed(summary, f"the board's clock is {ratio:.2f} times what its bitstream "
                                  f"was built for: a PLL or oscillator problem, or a bitstream built for "
                                  f"another clock (--clock); rebuild and reprogram", **details)
        elif fpga:
            summary += (f"; {ratio:.2%} of real time (reported, not judged: not a serial port, so the "
                        f"simulated board, far slower than a board, or a bridge)")
        else:
            summary += f"; {ratio:.2%} of real time (reported, not judged: the emulator has no clock of its own)"
        if overruns:
            return ("warn", summary + "; the emulator's ticks are timed by this computer's scheduler, so "
                    "its overruns are not the device's", None, details)
        return "pass", summary, None, details


def _first_difference(want: list[dict], got: list[dict], image: Image) -> str | None:
    """Where the device's session first differs from the golden model's, in words."""
    for k, (a, b) in enumerate(zip(want, got)):
        bad = np.nonzero((a["spikes"] != b["spikes"]).any(axis=1))[0]
        if a["start"] != b["start"] or a["spikes"].shape != b["spikes"].shape:
            return (f"run {k + 1}: the device ran ticks from {b['start']} ({b['spikes'].shape}), the "
                    f"model from {a['start']} ({a['spikes'].shape})")
        if bad.size:
            t = int(bad[0])
            ids = image.output_ids
            return (f"output spikes at tick {a['start'] + t}: model neurons "
                    f"{ids[a['spikes'][t]].tolist()}, device {ids[b['spikes'][t]].tolist()}")
        for name in a["weights"]:
            wa, wb = a["weights"][name], b["weights"][name]
            if not np.array_equal(wa, wb, equal_nan=True):
                i, j = np.argwhere(~((wa == wb) | (np.isnan(wa) & np.isnan(wb))))[0]
                return (f"after run {k + 1}, weight ({i}, {j}) of projection {name}: model {wa[i, j]:g}, "
                        f"device {wb[i, j]:g}")
        for name in a["state"]:
            sa, sb = a["state"][name], b["state"][name]
            if not np.array_equal(sa, sb):
                i = int(np.nonzero(sa != sb)[0][0])
                return f"after run {k + 1}, state {name}[{i}]: model {int(sa[i])}, device {int(sb[i])}"
        for name in a["counters"]:
            if a["counters"][name] != b["counters"].get(name):
                return (f"after run {k + 1}, counter {name}: model {a['counters'][name]}, device "
                        f"{b['counters'].get(name)}")
    return None
