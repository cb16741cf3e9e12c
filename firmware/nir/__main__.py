"""`python -m firmware.nir info model.nir --dt 1e-4`: what maps, how, and with what error."""

import sys

from .cli import main

sys.exit(main())
