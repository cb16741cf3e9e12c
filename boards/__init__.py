"""Board builds: `python -m boards.build BOARD` (docs/boards.md).

    registry   the boards: platform, part resources, default clock, baud and CoreConfig
    pll        iCE40 and ECP5 PLL settings, computed in Python
    glue       DeviceTop on a board: PLL, power-on reset, UART and LED pins
    tools      where yosys / nextpnr / the packers are (YoWASP by default)
    flow       the stages, from elaboration to bitstream, and summary.json
    report     nextpnr / yosys reports, the fits and meets-timing verdict, the summary table
    program    loading the bitstream (iceprog, openFPGALoader)
    build      the command line
"""
