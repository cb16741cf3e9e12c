import sys
from pathlib import Path

# The suite's shared checker and strategies (hardening.py) are imported by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
