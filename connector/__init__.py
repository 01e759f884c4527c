"""The Segment side of pointillist-mock: Segment messages in, Pointillist events out.

It never imports mockserver: the two meet on the wire (HTTP and the files in contracts/).
"""

from .config import DEFAULT_MAPPING_SETTINGS, DeliveryConfig, MappingSettings
from .errors import (
    MAPPING_ERROR_CODES,
    ConfigError,
    ConnectorError,
    DeliveryError,
    MappingError,
    MappingErrorCode,
)
from .mapping import Mapped, Skipped, SkipReason, map_message
from .messages import MESSAGE_TYPES, event_time
from .times import parse_timestamp, to_event_time

__all__ = [
    "DEFAULT_MAPPING_SETTINGS",
    "MAPPING_ERROR_CODES",
    "MESSAGE_TYPES",
    "ConfigError",
    "ConnectorError",
    "DeliveryConfig",
    "DeliveryError",
    "Mapped",
    "MappingError",
    "MappingErrorCode",
    "MappingSettings",
    "SkipReason",
    "Skipped",
    "event_time",
    "map_message",
    "parse_timestamp",
    "to_event_time",
]
