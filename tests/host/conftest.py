# The emulator fixtures, shared with tests/sim (tests/support/fixtures.py).
from tests.support.fixtures import server, silent_server  # noqa: F401
