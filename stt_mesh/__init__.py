"""The ``stt-mesh`` command: local stack, publishing, running services, the demo."""
