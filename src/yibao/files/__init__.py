"""Reading policy, catalogue and claim files into domain records (an adapter around the domain)."""

from yibao.files.loader import (
    FileError,
    catalog_item_from_data,
    catalog_item_to_json,
    dumps,
    load_catalog,
    load_claim,
    load_policy,
    parse_policy,
    policy_from_json,
    policy_to_json,
)

__all__ = [
    "FileError",
    "catalog_item_from_data",
    "catalog_item_to_json",
    "dumps",
    "load_catalog",
    "load_claim",
    "load_policy",
    "parse_policy",
    "policy_from_json",
    "policy_to_json",
]
