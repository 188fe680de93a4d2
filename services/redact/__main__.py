"""``python -m services.redact`` runs the redaction service."""

from services.redact.app import main

if __name__ == "__main__":
    main()
