"""The RTL co-simulation harness: the gateware (rtl/) in Verilator under cocotb, and the simulated
board that serves it over TCP. The golden model (sim/) judges the RTL; this subpackage is the
only part of sim/ that imports rtl/ or boards/ (tests/test_layers.py checks it).

    verilator.py       build_core / build_verilog (cached under build/verilator/), run_cocotb
    core_driver.py     CoreDriver: the core's ports driven through a set/get/clock adapter
                       (AmaranthAdapter for the Amaranth simulator)
    cocotb_adapter.py  the same adapter under cocotb (imported only inside a simulation)
    gate_level.py      the core synthesized for the iCE40 (the board build's yosys script) on Verilator
    board.py           BoardHarness, BoardServer, `python -m sim.board`: the device top + UART served on TCP
    board_cocotb.py    the simulator's side of the simulated board (sockets <-> UART bytes)
"""
