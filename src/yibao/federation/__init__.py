"""Nodes and the national hub: signed calls between yibao nodes (docs/cross-region.md)."""
