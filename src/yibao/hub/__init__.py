"""The national hub (国家平台): the region directory, routing between nodes, monthly clearing."""
