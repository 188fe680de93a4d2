"""Quality service: scores transcripts (WER proxy, verdicts), gates rollouts, tracks SLO burn
and unit cost."""
