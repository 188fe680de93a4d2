-- The analysis views: the latest version of every event identity, joined per call.
--
-- Each `latest_*` view reads its table with FINAL (replays collapse even before a merge) and
-- then keeps one row per identity, the highest version (a re-emitted event, e.g. a complete
-- quality report after a partial one, may land in another day's part of the sorting key).

CREATE VIEW IF NOT EXISTS $DB.latest_recordings AS
SELECT * FROM $DB.recordings FINAL
ORDER BY version DESC LIMIT 1 BY recording_id;

CREATE VIEW IF NOT EXISTS $DB.latest_failures AS
SELECT * FROM $DB.recording_failures FINAL
ORDER BY version DESC LIMIT 1 BY recording_id;

CREATE VIEW IF NOT EXISTS $DB.latest_transcripts AS
SELECT * FROM $DB.transcripts FINAL
ORDER BY version DESC LIMIT 1 BY recording_id, scope, seq;

CREATE VIEW IF NOT EXISTS $DB.latest_turns AS
SELECT * FROM $DB.speaker_turns FINAL
ORDER BY version DESC LIMIT 1 BY recording_id;

CREATE VIEW IF NOT EXISTS $DB.latest_quality AS
SELECT * FROM $DB.quality FINAL
ORDER BY version DESC LIMIT 1 BY recording_id, scope, seq;

CREATE VIEW IF NOT EXISTS $DB.latest_outcomes AS
SELECT * FROM $DB.llm_outcomes FINAL
ORDER BY version DESC LIMIT 1 BY trace_id, task;

CREATE VIEW IF NOT EXISTS $DB.latest_dead_letters AS
SELECT * FROM $DB.dead_letters FINAL
ORDER BY version DESC LIMIT 1 BY source_topic, source_partition, source_offset;

CREATE VIEW IF NOT EXISTS $DB.latest_gate_decisions AS
SELECT * FROM $DB.gate_decisions FINAL
ORDER BY version DESC LIMIT 1 BY gate_id, produced_at, decision;

-- One row per call (trace_id): the recording, its transcript quality, diarization, redaction,
-- latency and cost, and the downstream LLM outcomes. Every join is a LEFT JOIN: a call still
-- shows before (or without) a quality report, turns or an outcome; a call with several LLM
-- tasks keeps one row, its outcomes as parallel arrays (llm_tasks[i], llm_accepted[i], ...).
CREATE VIEW IF NOT EXISTS $DB.calls AS
SELECT
    base.trace_id AS trace_id,
    base.recording_id AS recording_id,
    base.tenant AS tenant,
    multiIf(f.recording_id != '', 'failed',
            q.recording_id != '' AND NOT q.partial AND t.recording_id != '', 'completed',
            q.recording_id != '' OR t.recording_id != '' OR d.recording_id != '', 'processing',
            'queued') AS status,
    if(r.recording_id != '', r.priority, f.priority) AS priority,
    if(r.recording_id != '', r.source, f.source) AS source,
    r.submitted_at AS submitted_at,
    r.duration_s AS duration_s,
    r.codec AS codec,
    r.channels AS channels,
    r.original_sample_rate AS sample_rate,
    r.snr_db AS snr_db,
    q.snr_band AS snr_band,
    r.chunk_count AS chunk_count,
    if(r.recording_id != '', r.job_id, f.job_id) AS job_id,
    r.golden_run AS golden_run,
    r.golden_slice AS golden_slice,
    q.model AS model,
    q.arm AS arm,
    q.verdict AS verdict,
    q.reasons AS reasons,
    q.wer_proxy AS wer_proxy,
    q.proxy_version AS proxy_version,
    q.true_wer AS true_wer,
    q.speech_coverage AS speech_coverage,
    q.language AS language,
    q.language_mix AS language_mix,
    q.hallucinated_words AS hallucinated_words,
    q.hallucinated_words > 0 AS hallucination,
    q.repetition_loops AS repetition_loops,
    has(q.reasons, 'repetition') OR q.repetition_loops > 0 AS repetition,
    q.word_count AS word_count,
    q.partial AS quality_partial,
    q.speaker_count AS speaker_count,
    d.num_speakers AS diarized_speakers,
    d.pipeline AS diarization_pipeline,
    t.entity_counts AS pii_counts,
    t.policy_name AS redaction_policy,
    t.policy_version AS redaction_policy_version,
    q.models AS models,
    q.privacy_errors AS privacy_errors,
    q.retries AS retries,
    q.queue_ms AS queue_ms,
    q.processing_s AS processing_s,
    q.latency_s AS end_to_end_s,
    q.rtf AS rtf,
    d.rtf AS diarization_rtf,
    q.cost_usd AS cost_usd,
    f.error_type AS failure_type,
    f.reason AS failure_reason,
    o.tasks AS llm_tasks,
    o.accepted AS llm_accepted,
    o.scores AS llm_scores,
    o.latencies_ms AS llm_latency_ms,
    o.costs_usd AS llm_cost_usd,
    length(o.tasks) AS llm_outcomes,
    if(has(o.tasks, 'summary'), o.accepted[indexOf(o.tasks, 'summary')], NULL) AS summary_accepted,
    q.cost_usd + arraySum(o.costs_usd) AS total_cost_usd
FROM
(
    SELECT trace_id, recording_id, tenant FROM
    (
        SELECT trace_id, recording_id, tenant, version FROM $DB.recordings
        UNION ALL
        SELECT trace_id, recording_id, tenant, version FROM $DB.recording_failures
    )
    ORDER BY version DESC LIMIT 1 BY recording_id
) AS base
LEFT JOIN $DB.latest_recordings AS r ON r.recording_id = base.recording_id
LEFT JOIN $DB.latest_failures AS f ON f.recording_id = base.recording_id
LEFT JOIN (SELECT * FROM $DB.latest_quality WHERE scope = 'recording') AS q
    ON q.recording_id = base.recording_id
LEFT JOIN (SELECT * FROM $DB.latest_transcripts WHERE scope = 'recording') AS t
    ON t.recording_id = base.recording_id
LEFT JOIN $DB.latest_turns AS d ON d.recording_id = base.recording_id
LEFT JOIN
(
    SELECT trace_id,
           groupArray(task) AS tasks,
           groupArray(accepted) AS accepted,
           groupArray(score) AS scores,
           groupArray(latency_ms) AS latencies_ms,
           groupArray(cost_usd) AS costs_usd
    FROM (SELECT * FROM $DB.latest_outcomes ORDER BY task)
    GROUP BY trace_id
) AS o ON o.trace_id = base.trace_id
SETTINGS join_use_nulls = 0;

-- One row per (call, LLM task), with the call's transcript quality: the shape for "does
-- transcript quality predict LLM rejection?".
CREATE VIEW IF NOT EXISTS $DB.call_outcomes AS
SELECT
    o.trace_id AS trace_id,
    o.recording_id AS recording_id,
    o.tenant AS tenant,
    o.task AS task,
    o.accepted AS accepted,
    o.score AS score,
    o.latency_ms AS latency_ms,
    o.cost_usd AS cost_usd,
    o.model AS llm_model,
    o.produced_at AS produced_at,
    c.status AS status,
    c.model AS model,
    c.language AS language,
    c.codec AS codec,
    c.snr_band AS snr_band,
    c.golden_slice AS golden_slice,
    c.verdict AS verdict,
    c.reasons AS reasons,
    c.wer_proxy AS wer_proxy,
    c.true_wer AS true_wer,
    c.speech_coverage AS speech_coverage
FROM $DB.latest_outcomes AS o
LEFT JOIN $DB.calls AS c ON c.trace_id = o.trace_id;

-- The same figures per slice: model version x arm x language x codec x SNR band.
CREATE VIEW IF NOT EXISTS $DB.slices AS
SELECT
    model,
    arm,
    language,
    codec,
    snr_band,
    count() AS calls,
    countIf(verdict = 'accepted') AS accepted_calls,
    countIf(verdict = 'accepted') / count() AS accepted_rate,
    avg(wer_proxy) AS mean_wer_proxy,
    avgIf(true_wer, true_wer IS NOT NULL) AS mean_true_wer,
    countIf(true_wer IS NOT NULL) AS referenced,
    avg(speech_coverage) AS mean_coverage,
    countIf(hallucination) AS hallucinated_calls,
    countIf(repetition) AS repetition_calls,
    sum(duration_s) AS audio_s,
    quantile(0.95)(queue_ms) AS p95_queue_ms,
    quantile(0.95)(end_to_end_s) AS p95_end_to_end_s,
    avg(rtf) AS mean_rtf,
    sum(cost_usd) AS total_cost_usd,
    sum(cost_usd) / nullIf(countIf(verdict = 'accepted'), 0) AS cost_per_accepted_usd,
    countIf(summary_accepted IS NOT NULL) AS summaries,
    countIf(summary_accepted = true) / nullIf(countIf(summary_accepted IS NOT NULL), 0) AS summary_accepted_rate
FROM $DB.calls
WHERE status IN ('completed', 'processing') AND model != ''
GROUP BY model, arm, language, codec, snr_band;
