"""Service logs carry the trace_id and recording_id of the message being handled; JSON is an
option; lines outside a message carry none."""

from __future__ import annotations

import io
import json
import logging

import pytest

from mesh import MeshSettings
from mesh.logs import configure, handling


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def capture(fmt: str) -> io.StringIO:
    configure("asr", MeshSettings(log_format=fmt, metrics_port=None))
    out = io.StringIO()
    logging.getLogger().handlers[0].setStream(out)
    return out


def test_a_line_logged_while_a_message_is_handled_carries_its_ids() -> None:
    out = capture("text")
    with handling("4bf92f3577b34da6a3ce929d0e0e4736", "rec-1"):
        logging.getLogger("services.asr").warning("chunk %d re-decoded", 3)
    logging.getLogger("services.asr").warning("idle")
    first, second = out.getvalue().splitlines()
    assert first.endswith("chunk 3 re-decoded trace_id=4bf92f3577b34da6a3ce929d0e0e4736 recording_id=rec-1")
    assert second.endswith("idle")


def test_json_lines_have_service_level_ids_and_message() -> None:
    out = capture("json")
    with handling(["t1", "t2", "t1"], ["r1", "r2", "r1"]):  # a batch of two recordings
        logging.getLogger("services.asr").info("batch decoded")
    line = json.loads(out.getvalue())
    assert (line["service"], line["level"], line["message"]) == ("asr", "INFO", "batch decoded")
    assert (line["trace_id"], line["recording_id"]) == ("t1,t2", "r1,r2")
