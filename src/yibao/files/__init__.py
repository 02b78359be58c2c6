"""Reading policy, catalogue and claim files into domain records (an adapter around the domain)."""

from yibao.files.loader import FileError, dumps, load_catalog, load_claim, load_policy, parse_policy

__all__ = ["FileError", "dumps", "load_catalog", "load_claim", "load_policy", "parse_policy"]
