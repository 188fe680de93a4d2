from mesh.trace import TraceContext, extract, inject, is_trace_id, new_trace_id


def test_traceparent_round_trips_through_headers_and_replaces_an_old_one():
    ctx = TraceContext.new()
    headers = inject([("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"), ("a", b"b")], ctx)
    assert [k for k, _ in headers].count("traceparent") == 1
    assert extract(headers) == ctx


def test_a_child_keeps_the_trace_and_gets_a_new_span():
    ctx = TraceContext.new()
    child = ctx.child()
    assert child.trace_id == ctx.trace_id and child.span_id != ctx.span_id


def test_invalid_traceparents_are_ignored():
    assert extract([("traceparent", b"garbage")]) is None
    assert extract([("traceparent", b"00-" + b"0" * 32 + b"-" + b"2" * 16 + b"-01")]) is None
    assert extract(None) is None


def test_new_reuses_a_valid_trace_id_and_replaces_an_invalid_one():
    tid = new_trace_id()
    assert TraceContext.new(tid).trace_id == tid
    assert is_trace_id(TraceContext.new("not-a-trace").trace_id)
