"""Cases, trajectories, contact discovery and dispatch over the API."""

from ninja import Router

router = Router(tags=["流调溯源"])
