import sys
from pathlib import Path

from hypothesis import settings

# Test helpers beside the tests (reference.py) are imported by name; pytest runs in importlib
# mode so that tests/rtl never shadows the project's rtl package.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The property suite's long run: pytest --hypothesis-profile=axonite-slow tests/properties
# (tests/properties/hardening.py multiplies its examples). Registered here, before the option
# is read, because the suite's own folder is collected later.
settings.register_profile("axonite-slow", deadline=None)
