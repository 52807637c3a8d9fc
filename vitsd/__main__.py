import sys

from vitsd.cli import main

sys.exit(main())
