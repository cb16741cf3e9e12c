# The emulator on TCP of test_emulator_hardening.py, as tests/host has it (tests/support/fixtures.py).
from tests.support.fixtures import server  # noqa: F401
