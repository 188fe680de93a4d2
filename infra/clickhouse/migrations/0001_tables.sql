-- One table per event type of the v1 contract, written by the sink (services/sink).
--
-- Identity: every table is a ReplacingMergeTree whose sorting key is the event's identity
-- (recording_id plus scope/seq, trace_id plus task, ...), versioned by the event's own time,
-- so a redelivered or replayed event collapses into the row it repeats. The views in 0002
-- read the latest version per identity, so analysts never see a duplicate, merged or not.
--
-- Layout: ORDER BY starts with (tenant, day), the filter of nearly every question; PARTITION
-- BY month keeps the part count low (a partition per tenant and day would multiply parts by
-- the tenant count; ClickHouse advises against more than ~1000 partitions per table).
-- LowCardinality for model, language, codec, tenant and other short enumerations.
--
-- Privacy: no audio and no raw transcript text. Redacted text is written only when the sink's
-- STT_SINK_STORE_REDACTED_TEXT is set, and expires after $TEXT_TTL_DAYS days.
-- Producer metadata is kept for the sink's allow-list of keys only (never the reference).
--
-- $DB, $TTL_DAYS, $TEXT_TTL_DAYS and $DLQ_TTL_DAYS are filled in by `stt-mesh sink migrate`.

CREATE TABLE IF NOT EXISTS $DB.recordings
(
    recording_id         String,
    trace_id             String,
    tenant               LowCardinality(String),
    source               LowCardinality(String),
    codec                LowCardinality(String),
    container            LowCardinality(String),
    original_sample_rate UInt32,
    channels             UInt16,
    duration_s           Float64,
    size_bytes           UInt64,
    sha256               String,
    priority             LowCardinality(String),
    split_channels       Bool,
    language_hint        LowCardinality(String),
    speakers_hint        Nullable(UInt16),
    arm_hint             LowCardinality(String),
    snr_db               Float64,
    rms_dbfs             Float64,
    clipping_ratio       Float64,
    silence_ratio        Float64,
    chunk_count          UInt32,
    job_id               String,
    job_row              Nullable(UInt32),
    golden_run           String,
    golden_slice         LowCardinality(String),
    metadata             Map(LowCardinality(String), String),
    submitted_at         DateTime64(3, 'UTC'),
    ingested_at          DateTime64(3, 'UTC'),
    version              UInt64,
    _topic               LowCardinality(String),
    _partition           UInt16,
    _offset              UInt64,
    kafka_ts             DateTime64(3, 'UTC'),
    inserted_at          DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(submitted_at)
ORDER BY (tenant, toDate(submitted_at), recording_id)
TTL toDateTime(submitted_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS $DB.recording_failures
(
    recording_id String,
    trace_id     String,
    tenant       LowCardinality(String),
    source       LowCardinality(String),
    priority     LowCardinality(String),
    error_type   LowCardinality(String),
    reason       String,
    size_bytes   UInt64,
    job_id       String,
    metadata     Map(LowCardinality(String), String),
    failed_at    DateTime64(3, 'UTC'),
    version      UInt64,
    _topic       LowCardinality(String),
    _partition   UInt16,
    _offset      UInt64,
    kafka_ts     DateTime64(3, 'UTC'),
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (tenant, toDate(failed_at), recording_id)
TTL toDateTime(failed_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS $DB.transcripts
(
    recording_id   String,
    trace_id       String,
    tenant         LowCardinality(String),
    scope          LowCardinality(String),
    seq            Int32,
    policy_name    LowCardinality(String),
    policy_version LowCardinality(String),
    partial        Bool,
    model          LowCardinality(String),
    language       LowCardinality(String),
    entity_counts  Map(LowCardinality(String), UInt32),
    speakers       Array(String),
    segments       Array(Tuple(speaker String, start_s Float64, end_s Float64, channel UInt16, text String)),
    text           String TTL toDateTime(produced_at) + INTERVAL $TEXT_TTL_DAYS DAY,
    produced_at    DateTime64(3, 'UTC'),
    version        UInt64,
    _topic         LowCardinality(String),
    _partition     UInt16,
    _offset        UInt64,
    kafka_ts       DateTime64(3, 'UTC'),
    inserted_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(produced_at)
ORDER BY (tenant, toDate(produced_at), recording_id, scope, seq)
TTL toDateTime(produced_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS $DB.speaker_turns
(
    recording_id     String,
    trace_id         String,
    tenant           LowCardinality(String),
    num_speakers     UInt16,
    partial          Bool,
    mode             LowCardinality(String),
    pipeline         LowCardinality(String),
    device           LowCardinality(String),
    audio_duration_s Float64,
    processing_ms    Float64,
    rtf              Float64,
    turns            Array(Tuple(speaker String, start_s Float64, end_s Float64, overlap Bool, channel Int32)),
    produced_at      DateTime64(3, 'UTC'),
    version          UInt64,
    _topic           LowCardinality(String),
    _partition       UInt16,
    _offset          UInt64,
    kafka_ts         DateTime64(3, 'UTC'),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(produced_at)
ORDER BY (tenant, toDate(produced_at), recording_id)
TTL toDateTime(produced_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS $DB.quality
(
    recording_id          String,
    trace_id              String,
    tenant                LowCardinality(String),
    scope                 LowCardinality(String),
    seq                   Int32,
    model                 LowCardinality(String),
    model_sha256          String,
    device                LowCardinality(String),
    arm                   LowCardinality(String),
    verdict               LowCardinality(String),
    reasons               Array(LowCardinality(String)),
    proxy_version         LowCardinality(String),
    wer_proxy             Float64,
    true_wer              Nullable(Float64),
    speech_coverage       Nullable(Float64),
    audio_duration_s      Float64,
    word_count            UInt32,
    mean_word_probability Float64,
    mean_avg_logprob      Float64,
    language              LowCardinality(String),
    language_mix          Map(LowCardinality(String), Float64),
    speaker_count         Nullable(UInt16),
    pii_counts            Map(LowCardinality(String), UInt32),
    models                Array(LowCardinality(String)),
    redaction_policy      LowCardinality(String),
    slice                 Map(LowCardinality(String), String),
    codec                 LowCardinality(String),
    snr_band              LowCardinality(String),
    partial               Bool,
    hallucinated_words    UInt32,
    repetition_loops      UInt32,
    privacy_errors        UInt32,
    retries               UInt32,
    queue_ms              Float64,
    processing_s          Float64,
    latency_s             Nullable(Float64),
    rtf                   Float64,
    cost_usd              Float64,
    golden_run            String,
    features              Map(LowCardinality(String), Float64),
    produced_at           DateTime64(3, 'UTC'),
    version               UInt64,
    _topic                LowCardinality(String),
    _partition            UInt16,
    _offset               UInt64,
    kafka_ts              DateTime64(3, 'UTC'),
    inserted_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(produced_at)
ORDER BY (tenant, toDate(produced_at), recording_id, scope, seq)
TTL toDateTime(produced_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS $DB.gate_decisions
(
    gate_id         String,
    source          LowCardinality(String),
    golden_run      String,
    decision        LowCardinality(String),
    reason          String,
    reasons         Array(String),
    canary          LowCardinality(String),
    control         LowCardinality(String),
    slice_deltas    Map(String, Float64),
    slices          Array(Tuple(slice String, metric String, control_n UInt32, candidate_n UInt32,
                                control Float64, candidate Float64, relative_delta Float64,
                                p_value Nullable(Float64), effect_size Float64, protected Bool,
                                bound Float64, verdict String)),
    window_start    DateTime64(3, 'UTC'),
    window_end      DateTime64(3, 'UTC'),
    produced_at     DateTime64(3, 'UTC'),
    version         UInt64,
    _topic          LowCardinality(String),
    _partition      UInt16,
    _offset         UInt64,
    kafka_ts        DateTime64(3, 'UTC'),
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(produced_at)
ORDER BY (toDate(produced_at), gate_id, produced_at, decision)
TTL toDateTime(produced_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS $DB.llm_outcomes
(
    trace_id     String,
    recording_id String,
    tenant       LowCardinality(String),
    task         LowCardinality(String),
    accepted     Bool,
    score        Nullable(Float64),
    latency_ms   Float64,
    cost_usd     Float64,
    model        LowCardinality(String),
    produced_at  DateTime64(3, 'UTC'),
    version      UInt64,
    _topic       LowCardinality(String),
    _partition   UInt16,
    _offset      UInt64,
    kafka_ts     DateTime64(3, 'UTC'),
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(produced_at)
ORDER BY (tenant, toDate(produced_at), trace_id, task)
TTL toDateTime(produced_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- A dead letter's metadata only: never its payload bytes, never header values.
CREATE TABLE IF NOT EXISTS $DB.dead_letters
(
    dlq_topic        LowCardinality(String),
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64,
    recording_id     String,
    trace_id         String,
    service          LowCardinality(String),
    error_type       LowCardinality(String),
    reason           String,
    retries          UInt32,
    header_keys      Array(String),
    payload_bytes    UInt64,
    failed_at        DateTime64(3, 'UTC'),
    version          UInt64,
    _topic           LowCardinality(String),
    _partition       UInt16,
    _offset          UInt64,
    kafka_ts         DateTime64(3, 'UTC'),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (toDate(failed_at), source_topic, source_partition, source_offset)
TTL toDateTime(failed_at) + INTERVAL $DLQ_TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;
