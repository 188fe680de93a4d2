import sys

from services.sink.app import main

sys.exit(main())
