"""Key groups and their coverage over the API."""

from ninja import Router

router = Router(tags=["重点人群检测"])
