from infra.local import new_cluster_id, topic_specs
from mesh import topics


def test_cluster_ids_never_start_with_a_dash_and_are_22_chars():
    ids = [new_cluster_id() for _ in range(2000)]  # ~1 in 64 raw ids would start with '-'
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_every_contract_topic_and_its_dlq_are_specified_with_the_raw_text_retention_short():
    specs = {s["name"]: s for s in topic_specs()}
    for name in topics.ALL:
        assert name in specs and topics.dlq(name) in specs
    assert specs[topics.TRANSCRIPTS]["config"]["retention.ms"] == "86400000"
    assert specs[topics.CHUNKS_REALTIME]["partitions"] == 6
