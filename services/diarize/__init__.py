"""Diarization service: AudioChunk events in, SpeakerTurns (who spoke when) out.

``attribution.attribute_words`` is importable without torch (the redaction service uses it).
"""
