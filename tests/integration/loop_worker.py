"""A mesh service used by the crash and broker-restart tests: copies LlmOutcome events to an
output topic, slowly, so that it can be killed with SIGKILL in the middle of a poll batch.
Other settings come from the ``STT_*`` environment; /metrics and the probes are served only
when ``STT_METRICS_PORT`` is set."""

from __future__ import annotations

import os
import sys
import time

from mesh import MeshSettings, Message, Output, Processor


def main(bootstrap: str, source: str, sink: str, group: str, delay_s: float) -> None:
    port = os.environ.get("STT_METRICS_PORT")
    settings = MeshSettings(bootstrap_servers=bootstrap, metrics_port=int(port) if port else None)

    def handle(msg: Message) -> list[Output]:
        time.sleep(delay_s)
        return [Output(sink, "LlmOutcome", {**msg.value, "task": "copied"})]

    Processor(settings, service="crashy", topics=[source], group_id=group, handler=handle).run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
