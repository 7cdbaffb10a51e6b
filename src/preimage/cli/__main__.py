import sys

from preimage.cli.main import main

sys.exit(main())
