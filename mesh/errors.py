"""The project's own error types; library errors are wrapped into these at the boundary."""


class MeshError(Exception):
    """Base class of stt-mesh errors."""


class SerializationError(MeshError):
    """Bytes could not be encoded to, or decoded from, an Avro schema of the contract."""


class RetryableError(MeshError):
    """A transient failure (a timeout, a busy dependency): the message is tried again with backoff."""


class NonRetryableError(MeshError):
    """The message can never be handled (bad content): it goes straight to the dead-letter topic."""


class DeliveryError(MeshError):
    """Kafka did not acknowledge a produced record; offsets of its input are not stored."""


class MessageTooLarge(NonRetryableError):
    """An output is larger than the producer's message.max.bytes: it can never be sent."""
