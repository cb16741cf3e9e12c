import sys
from pathlib import Path

# The regression's helpers (random_networks) are imported by name, here and inside cocotb.
sys.path.insert(0, str(Path(__file__).resolve().parent))
