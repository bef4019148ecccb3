"""Mass-testing rounds and their coverage over the API."""

from ninja import Router

router = Router(tags=["区域核酸检测"])
