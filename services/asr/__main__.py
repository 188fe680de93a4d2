"""``python -m services.asr --pool realtime|batch`` runs one ASR pool."""

from services.asr.app import main

if __name__ == "__main__":
    main()
