"""Control zones and cluster graphs over the API."""

from ninja import Router

router = Router(tags=["管控区域与传播链"])
