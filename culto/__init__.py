"""CultoTranscript mesh: sermon videos transcribed, analysed and streamed live over NATS."""

__version__ = "0.1.0"
