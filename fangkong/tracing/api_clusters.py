"""Clusters (transmission chains) over the API: the graph of a cluster."""

from ninja import Router

router = Router(tags=["传播链"])
