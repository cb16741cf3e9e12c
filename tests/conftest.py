import sys
from pathlib import Path

# Test helpers beside the tests (reference.py) are imported by name; pytest runs in importlib
# mode so that tests/rtl never shadows the project's rtl package.
sys.path.insert(0, str(Path(__file__).resolve().parent))
