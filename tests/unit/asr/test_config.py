"""Settings from STT_ASR_* variables: pools, models, nested groups, tenant prompts."""

from __future__ import annotations

from services.asr.config import AsrSettings


def test_pools_differ_in_batching_by_default():
    s = AsrSettings()
    assert s.realtime.batch_size < s.batch.batch_size
    assert s.realtime.batch_timeout_ms < s.batch.batch_timeout_ms


def test_nested_variables_configure_pools_decoding_and_guards(monkeypatch):
    monkeypatch.setenv("STT_ASR_POOL", "batch")
    monkeypatch.setenv("STT_ASR_BATCH__BATCH_SIZE", "32")
    monkeypatch.setenv("STT_ASR_BATCH__MODEL", "/models/large-v3")
    monkeypatch.setenv("STT_ASR_DECODE__BEAM_SIZE", "1")
    monkeypatch.setenv("STT_ASR_GUARDS__MIN_WORD_DBFS", "-70")
    s = AsrSettings()
    assert s.pool == "batch" and s.pool_settings().batch_size == 32
    assert s.main_model() == "/models/large-v3" and s.main_model("realtime") == "base"
    assert s.decode.beam_size == 1 and s.guards.min_word_dbfs == -70.0


def test_tenant_prompts_come_as_json_with_a_wildcard_default(monkeypatch):
    monkeypatch.setenv(
        "STT_ASR_TENANT_PROMPTS", '{"acme": {"hotwords": "Kafka ClickHouse"}, "*": {"initial_prompt": "Hi."}}'
    )
    s = AsrSettings()
    assert s.prompt_for("acme").hotwords == "Kafka ClickHouse"
    assert s.prompt_for("other").initial_prompt == "Hi."


def test_without_prompts_a_tenant_gets_none():
    prompt = AsrSettings().prompt_for("acme")
    assert (prompt.initial_prompt, prompt.hotwords) == (None, None)
