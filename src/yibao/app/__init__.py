"""Use cases: one module per business area. Each takes a Store (the unit of work) and a Context."""
