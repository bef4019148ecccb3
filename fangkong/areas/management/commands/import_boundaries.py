"""`fangkong import_boundaries FILE.geojson`: the townships' outlines for the warning board's map."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fangkong.areas.boundaries import import_boundaries
from fangkong.areas.choices import AreaLevel


class Command(BaseCommand):
    help = "导入乡镇（街道）边界 GeoJSON（按区划代码或名称匹配），供监测预警地图离线使用"

    def add_arguments(self, parser):
        parser.add_argument("path", help="GeoJSON FeatureCollection 文件")
        parser.add_argument("--level", default=AreaLevel.TOWNSHIP, choices=AreaLevel.values)

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        try:
            result = import_boundaries(None, path.read_bytes(), level=options["level"])
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        self.stdout.write(f"matched={result['matched']} unmatched={len(result['unmatched'])} "
                          f"missing={len(result['missing'])}")
        if result["missing"]:
            self.stdout.write("仍无边界：" + "、".join(result["missing"]))
