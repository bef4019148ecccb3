"""Demo sampling points: one fixed point at each township seat and one per street community."""

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.testing.models import SamplingPoint

from . import data


def generate_sampling_points(rng) -> int:
    points = []
    for township in Area.objects.filter(parent_id=data.COUNTY_CODE, level=AreaLevel.TOWNSHIP).order_by("code"):
        points.append(SamplingPoint(name=f"{township.name}卫生院采样点", area=township,
                                    address=f"{township.name}政府路{rng.randrange(1, 99)}号"))
        village = Area.objects.filter(parent=township).order_by("code").first()
        if village is not None:
            points.append(SamplingPoint(name=f"{village.name}文化广场采样点", area=village,
                                        address=f"{village.name}文化广场"))
    SamplingPoint.objects.bulk_create(points)
    return len(points)
