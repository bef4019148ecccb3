"""Area outlines (GeoJSON), for drawing the county offline and for distances between townships.

HQ imports the outlines once (``fangkong import_boundaries county.geojson``): each feature is matched to
an area by its code (properties ``code``, ``区划代码`` or ``adcode``; 9- or 12-digit township codes
both work) or, failing that, by its name under the county.
"""

import json
import math

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event

from .choices import AreaLevel
from .models import Area, AreaOutline

CODE_KEYS = ("code", "区划代码", "adcode", "CODE")
NAME_KEYS = ("name", "名称", "NAME")
GEOMETRY_TYPES = ("Polygon", "MultiPolygon")


def _rings(geometry: dict):
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for polygon in polygons:
        yield from polygon[:1]  # the outer ring of each polygon


def clean_geometry(geometry) -> dict:
    """A Polygon or MultiPolygon with numeric [lon, lat] positions in range; raises ValidationError."""
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        raise ValidationError(_("边界应为 Polygon 或 MultiPolygon。"))
    try:
        rings = list(_rings(geometry))
        for ring in rings:
            if len(ring) < 4:
                raise ValidationError(_("边界的环至少需要 4 个点。"))
            for lon, lat, *_rest in ring:
                if not (-180 <= float(lon) <= 180 and -90 <= float(lat) <= 90):
                    raise ValidationError(_("坐标超出经纬度范围。"))
    except (TypeError, ValueError, IndexError) as exc:
        raise ValidationError(_("边界坐标格式不正确。")) from exc
    return {"type": geometry["type"], "coordinates": geometry["coordinates"]}


def centroid(geometry: dict) -> tuple[float, float]:
    """The mean of the outer rings' vertices: close enough to rank neighbours within a county."""
    points = [(float(p[0]), float(p[1])) for ring in _rings(geometry) for p in ring[:-1]]
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def _match(feature: dict, by_code: dict, by_name: dict) -> Area | None:
    props = feature.get("properties") or {}
    for key in CODE_KEYS:
        code = str(props.get(key) or "").strip()
        if code:
            area = by_code.get(code) or by_code.get(code.ljust(12, "0"))
            if area is not None:
                return area
    for key in NAME_KEYS:
        name = str(props.get(key) or "").strip()
        if name and name in by_name:
            return by_name[name]
    return None


@transaction.atomic
def import_boundaries(user, collection, *, level: str = AreaLevel.TOWNSHIP) -> dict:
    """Store the outlines of a FeatureCollection on the areas of LEVEL; every feature is matched or reported."""
    if isinstance(collection, (bytes, str)):
        try:
            collection = json.loads(collection)
        except ValueError as exc:
            raise ValidationError(_("文件不是有效的 GeoJSON。")) from exc
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ValidationError(_("应为 GeoJSON FeatureCollection。"))
    areas = list(Area.objects.filter(level=level))
    by_code = {a.code: a for a in areas}
    by_name = {a.name: a for a in areas}
    matched, unmatched, errors = {}, [], []
    for n, feature in enumerate(collection.get("features") or [], start=1):
        area = _match(feature, by_code, by_name)
        if area is None:
            unmatched.append(n)
            continue
        try:
            matched[area.code] = clean_geometry(feature.get("geometry"))
        except ValidationError as exc:
            errors.append({"feature": n, "area": area.name, "error": " ".join(exc.messages)})
    if errors:
        raise ValidationError([_("第 %(feature)s 个要素（%(area)s）：%(error)s") % e for e in errors])
    _store(matched)
    record_event(user, AuditAction.IMPORT, None, object_type="areas.area", object_id="*",
                 object_repr=_("区划边界"), changes={"matched": [None, len(matched)],
                                                     "unmatched": [None, len(unmatched)]})
    outlined = set(AreaOutline.objects.filter(area__in=areas).values_list("area_id", flat=True))
    return {"matched": len(matched), "unmatched": unmatched,
            "missing": [a.name for a in areas if a.code not in outlined]}


def _store(geometries: dict) -> None:
    """Set the outlines of the areas GEOMETRIES names by code, replacing those they had."""
    AreaOutline.objects.bulk_create([AreaOutline(area_id=code, geometry=g) for code, g in geometries.items()],
                                    update_conflicts=True, unique_fields=["area"], update_fields=["geometry"])


def outlines(areas: list) -> dict:
    """The outlines of AREAS that have one: code -> geometry, in one query."""
    return dict(AreaOutline.objects.filter(area__in=[a.code for a in areas]).values_list("area_id", "geometry"))


def feature_collection(areas) -> dict:
    """The areas with an outline, as GeoJSON features named and coded for the map, in the order of AREAS."""
    areas = list(areas)
    found = outlines(areas)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": a.name, "code": a.code}, "geometry": found[a.code]}
        for a in areas if a.code in found]}


def demo_boundaries(townships, *, west=116.25, south=35.78, east=116.69, north=36.10, columns=5) -> int:
    """Tiles for the demo county's townships (a grid over the county; no randomness)."""
    townships = list(townships)
    rows = max(1, math.ceil(len(townships) / columns))
    width, height = (east - west) / columns, (north - south) / rows
    geometries = {}
    for index, area in enumerate(townships):
        row, column = divmod(index, columns)
        x0, y1 = west + column * width, north - row * height
        x1, y0 = x0 + width, y1 - height
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        geometries[area.code] = {"type": "Polygon", "coordinates": [[[round(x, 5), round(y, 5)] for x, y in ring]]}
    _store(geometries)
    return len(townships)
