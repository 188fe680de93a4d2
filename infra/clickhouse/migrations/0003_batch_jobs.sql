-- Backfill jobs (`stt-mesh batch submit`): the job record from stt.jobs.v1, one version per
-- cursor step, and each job's progress and quality from the calls it published.
-- The record holds no audio, no transcript text and no producer metadata values.

CREATE TABLE IF NOT EXISTS $DB.batch_jobs
(
    job_id           String,
    tenant           LowCardinality(String),
    priority         LowCardinality(String),
    manifest         String,
    manifest_sha256  String,
    manifest_rows    UInt32,
    cursor           Int32,
    published        UInt32,
    state            LowCardinality(String),
    resumes          UInt32,
    models           Array(String),
    model_hashes     Array(String),
    model_roles      Map(String, String),
    decode_settings  Map(String, String),
    redaction_policy String,
    output_schema    Map(String, String),
    created_at       DateTime64(3, 'UTC'),
    updated_at       DateTime64(3, 'UTC'),
    version          UInt64,
    _topic           LowCardinality(String),
    _partition       UInt16,
    _offset          UInt64,
    kafka_ts         DateTime64(3, 'UTC'),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (tenant, toDate(created_at), job_id)
TTL toDateTime(created_at) + INTERVAL $TTL_DAYS DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS $DB.latest_batch_jobs AS
SELECT * FROM $DB.batch_jobs FINAL
ORDER BY version DESC LIMIT 1 BY job_id;

-- Per job: how many of its published recordings are done, failed or pending, their retries,
-- and their quality. A recording that ingest dead-lettered before it had metadata is counted
-- through its dead letter (keyed by recording_id) as failed.
CREATE VIEW IF NOT EXISTS $DB.job_progress AS
SELECT
    j.job_id AS job_id,
    j.tenant AS tenant,
    j.state AS state,
    j.manifest_rows AS manifest_rows,
    j.cursor AS cursor,
    j.published AS published,
    j.resumes AS resumes,
    countIf(c.status = 'completed') AS done,
    countIf(c.status = 'failed') AS failed,
    toInt64(j.published) - countIf(c.status IN ('completed', 'failed')) AS pending,
    sum(c.retries) AS retries,
    countIf(c.verdict = 'accepted') / nullIf(countIf(c.status = 'completed'), 0) AS accepted_rate,
    avgIf(c.wer_proxy, c.status = 'completed') AS mean_wer_proxy,
    avgIf(c.true_wer, c.true_wer IS NOT NULL) AS mean_true_wer,
    countIf(c.true_wer IS NOT NULL) AS referenced,
    sum(c.cost_usd) AS cost_usd
FROM $DB.latest_batch_jobs AS j
LEFT JOIN (SELECT * FROM $DB.calls WHERE job_id != '') AS c ON c.job_id = j.job_id
GROUP BY j.job_id, j.tenant, j.state, j.manifest_rows, j.cursor, j.published, j.resumes;
