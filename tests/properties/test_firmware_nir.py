"""`python -m firmware.nir info` on mutated NIR files (firmware/nir.py): the graphs of
tests/data/nir and the digits example with bytes changed or cut off, read by h5py.

Each run ends with exit status 0, or 1 and one "error: ..." line on stderr (NIRError), never a
traceback. A corrupt HDF5 file can make h5py fail in many ways (RuntimeError, OSError ...),
and on a rare one loop forever inside the HDF5 library, where no signal reaches Python: so each
run is a process of its own, and one that does not end within HANG_S fails the property.
(tests/properties/test_host_cli.py runs the command in process on junk that is no HDF5 file.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.support import DATA, ENV, ROOT
from tests.support.hardening import budget, check_message

GRAPHS = sorted((DATA / "nir").glob("*.nir")) + [ROOT / "examples" / "data" / "digits_snn.nir"]
HANG_S = 60


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("nir")


@budget(8)
@given(graph=st.sampled_from(GRAPHS), cut=st.one_of(st.none(), st.integers(0, 1 << 16)),
       changes=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4))
# one byte of a heap: h5py raises RuntimeError (about one file in ten of these mutations does)
@example(graph=DATA / "nir" / "norse_iaf.nir", cut=None, changes=[(6232, 123)])
def test_nir_info_on_a_mutated_file_exits_cleanly(folder, graph, cut, changes):
    data = bytearray(graph.read_bytes())
    for at, value in changes:
        data[at % len(data)] = value
    if cut is not None:
        del data[cut % len(data):]
    path = folder / "mutated.nir"
    path.write_bytes(bytes(data))
    try:
        done = subprocess.run([sys.executable, "-m", "firmware.nir", "info", str(path), "--dt", "1e-3"],
                              cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=HANG_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m firmware.nir info hangs on {graph.name} with bytes {changes} changed"
                    f"{f', cut at {cut % len(data)}' if cut is not None else ''}", pytrace=False)
    event(f"exit {done.returncode}")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), (done.returncode, done.stderr)
    if done.returncode == 1:
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        check_message(Exception(lines[0][len("error: "):]))
