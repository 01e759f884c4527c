"""The Segment side of pointillist-mock: Segment messages in, Pointillist events out.

Its domain code never imports mockserver: the two meet on the wire (HTTP and the files in
contracts/). Only the composers start a mock beside it: the `pointillist-mock demo` command
(demo.py, registered by cli/mock_demo.py) and the `segment_gateway` pytest fixture
(pytest_plugin.py). tests/unit/test_import_layers.py keeps this true.
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
