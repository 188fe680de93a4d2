"""Diarization service: AudioChunk events in, SpeakerTurns (who spoke when) out."""
