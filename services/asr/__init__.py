"""ASR service: AudioChunk events in, ChunkTranscript events out, decoded with faster-whisper.

``worker.AsrWorker`` holds the logic (no Kafka), ``app`` wires it to the mesh, ``engine``
batches chunks of different recordings through one Whisper model, ``models`` says which
weights those are. Nothing loads a model at import time.
"""
