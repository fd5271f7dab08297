"""Connectors: where identities and accounts come from."""

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow

__all__ = ["Connector", "ConnectorContext", "RawRow"]
