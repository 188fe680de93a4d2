"""The small runtime every stt-mesh service imports: settings, the Kafka loop, Avro serde,
trace propagation, dead letters, metrics and health. No model code lives here."""

from mesh import topics
from mesh.errors import (
    DeliveryError,
    MeshError,
    MessageTooLarge,
    NonRetryableError,
    RetryableError,
    SerializationError,
)
from mesh.loop import Processor
from mesh.message import Message, Output
from mesh.publisher import Publisher
from mesh.settings import MeshSettings

__all__ = [
    "DeliveryError",
    "MeshError",
    "MeshSettings",
    "Message",
    "MessageTooLarge",
    "NonRetryableError",
    "Output",
    "Processor",
    "Publisher",
    "RetryableError",
    "SerializationError",
    "topics",
]
