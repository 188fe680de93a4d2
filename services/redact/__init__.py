"""PII redaction of call transcripts with Presidio: spoken-form recognizers (numbers and
e-mails said in words), per-segment and whole-recording scopes, mask/hash/drop policies."""
