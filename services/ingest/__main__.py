"""``python -m services.ingest`` consumes the raw topic; ``python -m services.ingest http``
serves the HTTP intake instead."""

import sys

from services.ingest.app import main, serve_http

if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        serve_http()
    else:
        main()
