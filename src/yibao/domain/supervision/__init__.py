"""Fund supervision: the rule library and the one engine that checks a visit (docs/supervision.md)."""
