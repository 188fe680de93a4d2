"""``python -m services.diarize`` runs the diarization service."""

from services.diarize.app import main

if __name__ == "__main__":
    main()
