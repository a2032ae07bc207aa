"""`python -m cvpipeline`: the command line."""

import sys

from cvpipeline.cli import main

sys.exit(main())
