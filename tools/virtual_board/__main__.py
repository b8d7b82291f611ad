import sys

from virtual_board.run import main

sys.exit(main())
