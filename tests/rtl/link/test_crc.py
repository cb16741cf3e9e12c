# amaranth: UnusedElaboratable=no
"""rtl.link.crc against firmware.protocol.crc16 (CRC-16/CCITT-FALSE), Amaranth simulator."""

import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from firmware import protocol
from rtl.link.crc import CRC16, INIT, POLY, crc16_update


def simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-7)
    sim.add_testbench(testbench)
    sim.run()


class UpdateHarness(wiring.Component):
    crc: In(16)
    byte: In(8)
    new: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.new.eq(crc16_update(self.crc, self.byte))
        return m


def test_constants_come_from_the_reference():
    assert (INIT, POLY) == (0xFFFF, 0x1021)          # CCITT-FALSE, as protocol.py documents
    assert protocol.crc16(b"123456789") == 0x29B1


def test_update_function_every_byte():
    """crc16_update for all 256 bytes from 40 register values (10,240 cases)."""
    rng = np.random.default_rng(1)
    states = [0, INIT, 0x8000, 0x0001] + rng.integers(0, 1 << 16, size=36).tolist()
    dut = UpdateHarness()
    got, want = [], []

    async def testbench(ctx):
        for crc in states:
            ctx.set(dut.crc, crc)
            for byte in range(256):
                ctx.set(dut.byte, byte)
                got.append(ctx.get(dut.new))
                want.append(protocol.crc16(bytes([byte]), crc))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert got == want


def run_messages(messages, rng, clear_with_first_byte):
    """Feed each message (bytes) through CRC16 with random idle cycles; return the crc output
    seen after each message's last byte."""
    dut = CRC16()
    results = []

    async def testbench(ctx):
        assert ctx.get(dut.crc) == INIT
        for message in messages:
            if not clear_with_first_byte or not message:
                ctx.set(dut.clear, 1)
                await ctx.tick()
                ctx.set(dut.clear, 0)
            for k, byte in enumerate(message):
                while rng.random() < 0.2:                # idle cycles with noise on data
                    ctx.set(dut.valid, 0)
                    ctx.set(dut.data, int(rng.integers(256)))
                    await ctx.tick()
                ctx.set(dut.valid, 1)
                ctx.set(dut.clear, int(clear_with_first_byte and k == 0))
                ctx.set(dut.data, byte)
                await ctx.tick()
                ctx.set(dut.clear, 0)
            ctx.set(dut.valid, 0)
            results.append(ctx.get(dut.crc))
            await ctx.tick()
            assert ctx.get(dut.crc) == results[-1]     # holds without valid

    simulate(dut, testbench)
    return results


@pytest.mark.parametrize("clear_with_first_byte", [False, True])
def test_random_messages(clear_with_first_byte):
    rng = np.random.default_rng(7 + clear_with_first_byte)
    messages = [b"", b"\x00", b"\xff", b"123456789"]
    messages += [rng.integers(0, 256, size=int(n), dtype=np.uint8).tobytes()
                 for n in rng.integers(1, 120, size=60)]
    messages += [bytes(300), b"\xff" * 300]
    got = run_messages(messages, rng, clear_with_first_byte)
    assert got == [protocol.crc16(message) for message in messages]


def test_frames_have_zero_residue():
    """header + payload + crc (MSB first) of real frames gives 0, the receiver's check."""
    rng = np.random.default_rng(3)
    bodies = []
    for seq in range(20):
        payload = rng.integers(0, 256, size=int(rng.integers(0, 80)), dtype=np.uint8).tobytes()
        body = protocol.cobs_decode(protocol.encode_frame(protocol.Op.WRITE, seq, payload)[:-1])
        bodies.append(body)
    got = run_messages(bodies, rng, clear_with_first_byte=True)
    assert got == [0] * len(bodies)
    bad = bytearray(bodies[0])
    bad[3] ^= 0x10
    assert run_messages([bytes(bad)], rng, True)[0] != 0


def test_converts_to_verilog():
    text = verilog.convert(CRC16(), name="crc16")
    assert re.search(r"^module crc16\(", text, re.M)
    for port in ("input clear", "input valid", "input [7:0] data", "output [15:0] crc"):
        assert port in text, f"no '{port}' in the Verilog"
