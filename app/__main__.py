"""`python -m app`: the same as the `backprop-studio` command (app.main)."""

import sys

from app.main import main

sys.exit(main())
