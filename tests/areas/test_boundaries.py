"""Township outlines: import by code or name, validation, centroids and distances, the demo tiles."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from fangkong.areas.boundaries import (
    centroid,
    demo_boundaries,
    distance_km,
    feature_collection,
    import_boundaries,
    outlines,
)
from fangkong.areas.models import Area, AreaOutline
from tests.base import WorldTestCase

SQUARE = {"type": "Polygon", "coordinates": [[[116.0, 35.0], [116.1, 35.0], [116.1, 35.1], [116.0, 35.1],
                                              [116.0, 35.0]]]}


class BoundaryTests(WorldTestCase):
    def test_import_matches_by_code_then_name_and_reports_the_rest(self):
        w = self.w
        collection = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "370923001"}, "geometry": SQUARE},
            {"type": "Feature", "properties": {"name": "乙镇"}, "geometry": SQUARE},
            {"type": "Feature", "properties": {"name": "不存在镇"}, "geometry": SQUARE},
        ]}
        result = import_boundaries(w.hq, json.dumps(collection))
        self.assertEqual((result["matched"], result["unmatched"]), (2, [3]))
        self.assertEqual(AreaOutline.objects.get(area=w.township_a).geometry["type"], "Polygon")
        self.assertEqual(len(feature_collection(Area.objects.filter(level="township"))["features"]), 2)
        # Imported again, an outline replaces the one the area had.
        moved = {**SQUARE, "coordinates": [[[x + 1, y] for x, y in SQUARE["coordinates"][0]]]}
        result = import_boundaries(w.hq, {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "370923001"}, "geometry": moved}]})
        self.assertEqual((result["matched"], result["missing"]), (1, []))
        self.assertEqual((AreaOutline.objects.count(), AreaOutline.objects.get(area=w.township_a).geometry),
                         (2, moved))

    def test_bad_geometry_is_refused_whole(self):
        bad = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "370923001000"}, "geometry": SQUARE},
            {"type": "Feature", "properties": {"code": "370923002000"},
             "geometry": {"type": "Polygon", "coordinates": [[[500, 35], [116, 35], [116, 36], [500, 35]]]}},
        ]}
        with pytest.raises(ValidationError):
            import_boundaries(self.w.hq, bad)
        self.assertFalse(AreaOutline.objects.exists())
        with pytest.raises(ValidationError):
            import_boundaries(self.w.hq, "not json")

    def test_centroid_distance_and_demo_tiles(self):
        self.assertEqual(centroid(SQUARE), pytest.approx((116.05, 35.05)))
        self.assertAlmostEqual(distance_km((116.0, 35.0), (116.0, 36.0)), 111.2, places=0)
        townships = Area.objects.filter(level="township").order_by("code")
        self.assertEqual(demo_boundaries(townships), 2)
        a, b = (centroid(g) for _code, g in sorted(outlines(townships).items()))
        self.assertGreater(distance_km(a, b), 1)

    def test_command(self):
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".geojson", delete=False) as handle:
            json.dump({"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"名称": "甲镇"}, "geometry": SQUARE}]}, handle)
        call_command("import_boundaries", handle.name)
        self.assertTrue(AreaOutline.objects.filter(area=self.w.township_a).exists())
