"""A downstream app: summarise each call, judge the summary, report an LlmOutcome (README.md)."""
