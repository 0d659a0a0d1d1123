import sys

from graphcore.cli.main import main

sys.exit(main())
