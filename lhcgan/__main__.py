import sys

from lhcgan.cli import main

sys.exit(main())
