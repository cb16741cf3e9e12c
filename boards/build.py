"""`python -m boards.build`: build the device (core + host link + UART) for a board.

    python -m boards.build BOARD [--neurons N] [--inputs N] [--synapses N] [--segments N]
                                 [--reverse N] [--delay D] [--clock MHZ] [--baud B]
                                 [--out DIR] [--seed S] [--synth-only | --pack-only] [--program [--no-doctor]] [--quiet]
    python -m boards.build --list

The configuration starts from the board's default (boards.registry) and each option replaces
one field. Artefacts go to build/BOARD/ (or --out). The stages print as they run (on a
terminal, a line on stderr counts the running stage's seconds; --quiet turns it off); a table
of resources used / available, Fmax against the clock, and the bitstream path end the build.

Exit status (main(argv) returns it):
  0  the design fits and meets timing (and, with --program, was programmed); with
     --synth-only: synthesis succeeded; with --pack-only: the design fits (timing unknown)
  1  it was built but does not fit, misses timing, or a tool failed; the message says which
     resource is over by how much, or which clock's Fmax is below the requested one
  2  the request was refused before any tool ran: unknown board, a clock the PLL cannot make,
     a baud rate the clock cannot divide to within 2 %, a configuration CoreConfig or the part
     cannot hold (ConfigError), a missing tool
  3  the build succeeded but --program could not program (no programmer installed, or it
     failed)
  4  programmed, but the board was not verified: the doctor (host.doctor, run on the board it
     finds after programming unless --no-doctor) failed a layer, or found no such board or
     several
  130 interrupted (Ctrl-C): the running tool is stopped with it; no summary is written
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from firmware.errors import AxoniteError, ConfigError
from firmware.protocol.cores import check_cores

from . import flow, program, registry
from .report import format_summary

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_PROGRAM, EXIT_DOCTOR, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

CONFIG_OPTIONS = {            # option -> CoreConfig field
    "neurons": "n_neurons", "inputs": "n_inputs", "synapses": "n_synapses",
    "segments": "n_segments", "reverse": "n_reverse", "delay": "max_delay",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m boards.build",
        description="Synthesize, place and route the axonite device for a board.")
    parser.add_argument("board", nargs="?", help=f"one of: {', '.join(registry.BOARDS)}")
    parser.add_argument("--list", action="store_true",
                        help="list the boards, their parts, default configurations and clocks")
    for option, field in CONFIG_OPTIONS.items():
        parser.add_argument(f"--{option}", type=int, metavar="N",
                            help=f"CoreConfig.{field} (default: the board's)")
    parser.add_argument("--cores", type=int, metavar="K",
                        help="cores on the device, each of the configuration (default: the board's)")
    parser.add_argument("--clock", type=float, metavar="MHZ",
                        help="core clock in MHz (default: the board's); the PLL's nearest is used")
    parser.add_argument("--baud", type=int, help="UART baud rate (default: the board's)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="build folder (default: build/BOARD)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default: 1)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--synth-only", action="store_true",
                      help="stop after synthesis (a yosys estimate, no bitstream)")
    stop.add_argument("--pack-only", action="store_true",
                      help="stop after nextpnr's packing: the exact resources of the full build in "
                           "seconds, whether it fits; no placement, no timing, no bitstream")
    parser.add_argument("--program", action="store_true",
                        help="program the board after a successful build (iceprog or openFPGALoader), "
                             "then run the doctor on it (python -m host doctor)")
    parser.add_argument("--no-doctor", dest="doctor", action="store_false",
                        help="with --program: do not run the doctor after programming")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no line counting the running stage's seconds (shown only on a terminal)")
    return parser


def _config_text(config) -> str:
    return ", ".join(f"{option} {getattr(config, field)}" for option, field in CONFIG_OPTIONS.items())


def list_boards(say=print):
    for board in registry.BOARDS.values():
        say(f"{board.name}: {board.description}, {board.part}")
        say(f"  clock {board.default_clock_hz / 1e6:g} MHz, UART {board.default_baud} baud")
        say("  resources: " + ", ".join(f"{r.label} {r.available}"
                                        for r in board.resources.values() if r.available))
        cores = f"{board.default_cores} cores, each " if board.default_cores > 1 else ""
        say(f"  default config: {cores}{_config_text(board.default_config)}")


def request_from_args(args) -> flow.BuildRequest:
    board = registry.board(args.board)
    overrides = {field: getattr(args, option) for option, field in CONFIG_OPTIONS.items()
                 if getattr(args, option) is not None}
    config = dataclasses.replace(board.default_config, **overrides)   # ConfigError if bad
    clock_hz = board.default_clock_hz if args.clock is None else args.clock * 1e6
    if clock_hz <= 0:
        raise registry.BoardError(f"clock {args.clock} MHz must be positive")
    return flow.BuildRequest(
        board=board, config=config, clock_hz=clock_hz,
        cores=check_cores(config, board.default_cores if args.cores is None else args.cores),
        baud=board.default_baud if args.baud is None else args.baud,
        out_dir=args.out if args.out is not None else Path("build") / board.name,
        seed=args.seed, synth_only=args.synth_only, pack_only=args.pack_only)


def main(argv=None, say=print, environ=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        list_boards(say)
        return EXIT_OK
    if args.board is None:
        parser.print_usage(sys.stderr)
        print(f"error: name a board ({', '.join(registry.BOARDS)}) or use --list", file=sys.stderr)
        return EXIT_REFUSED
    try:
        request = request_from_args(args)
        summary = flow.build(request, say=say, environ=environ, quiet=args.quiet)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigError as error:       # from CoreConfig, or the part at elaboration
        print(f"error: configuration refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except AxoniteError as error:      # BoardError, ToolError
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED

    say("")
    say(format_summary(summary))
    if not summary["ok"]:
        say("FAILED:")
        for failure in summary["failures"]:
            say(f"  - {failure}")
        return EXIT_FAILED
    if request.synth_only:
        say("OK: synthesized (not placed: fit and timing not checked)")
        return EXIT_OK
    if request.pack_only:
        say("OK: fits (packed, not placed: timing not checked)")
        return EXIT_OK
    say("OK: fits and meets timing")
    if args.program:
        say(f"[program] {summary['bitstream']}")
        if program.program(request.board, Path(summary["bitstream"]), say) != 0:
            return EXIT_PROGRAM
        if args.doctor and not program.check_board(request.board, request.config, request.baud, say):
            return EXIT_DOCTOR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
