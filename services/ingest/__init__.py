"""Ingest service: decode what producers send, normalise it to 16 kHz, cut it into chunks at
pauses, describe it, and hand it to the mesh (Kafka consumer, HTTP intake, CLI producer)."""
