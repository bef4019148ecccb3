"""Who lives together: household sizes, members' relations, sexes and ages."""

from itertools import accumulate

from fangkong.people.choices import Relation

from . import data

_SIZES = [s for s, _ in data.HOUSEHOLD_SIZES]
_SIZE_CUM = list(accumulate(w for _, w in data.HOUSEHOLD_SIZES))


def household_size(rng) -> int:
    return rng.choices(_SIZES, cum_weights=_SIZE_CUM)[0]


def _other_sex(sex: str) -> str:
    return "F" if sex == "M" else "M"


def members(rng, ids, size: int) -> list[tuple[str, str, int]]:
    """[(relation, sex, age)] for a household of SIZE; IDS draws ages from the pyramid."""
    head_sex = "M" if rng.random() < 0.7 else "F"
    if size == 1:
        age = ids.age(65, 99) if rng.random() < 0.3 else ids.age(18, 64)
        return [(Relation.HEAD, head_sex, age)]
    # Three or more: mostly a young or middle-aged couple with children.
    head_age = ids.age(30, 58) if size >= 3 and rng.random() < 0.75 else ids.age(22, 90)
    people = [(Relation.HEAD, head_sex, head_age)]
    if rng.random() < 0.88:
        spouse_age = max(20, min(99, head_age + rng.randint(-5, 3) * (1 if head_sex == "F" else -1) + rng.randint(-2, 2)))
        people.append((Relation.SPOUSE, _other_sex(head_sex), spouse_age))
    parents = 0
    while len(people) < size:
        roll = rng.random()
        if roll < 0.66 and head_age >= 20:
            # born when the head was 23 to 36
            people.append((Relation.CHILD, rng.choice("MF"), ids.age(head_age - 36, head_age - 23)))
        elif roll < 0.82 and head_age <= 60 and parents < 2:
            parents += 1
            people.append((Relation.PARENT, rng.choice("MF"), ids.age(head_age + 20, head_age + 40)))
        elif roll < 0.94 and head_age >= 42:
            people.append((Relation.GRANDCHILD, rng.choice("MF"), ids.age(0, head_age - 40)))
        elif roll < 0.97:
            people.append((Relation.SIBLING, rng.choice("MF"), ids.age(head_age - 8, head_age + 8)))
        else:
            people.append((Relation.OTHER, rng.choice("MF"), ids.age(0, 99)))
    return people


class DoorPlan:
    """Hands out doors in a grid: flats in numbered buildings (社区) or yards in groups (村)."""

    def __init__(self, rng, is_street: bool, first_number: int):
        self.rng = rng
        self.is_street = is_street
        self.number = first_number - 1
        self.slots: list[tuple[str, str]] = []
        self.building = None

    def _new_building(self):
        rng = self.rng
        self.number += 1
        if self.is_street:
            units = rng.randint(2, 4)
            floors = rng.choice((5, 6, 6, 6, 11, 18))
            doors = 2 if floors < 11 else rng.choice((2, 3, 4))
            name = f"{self.number}号楼"
            self.slots = [
                (str(u), f"{f}{d:02d}") for u in range(1, units + 1)
                for f in range(1, floors + 1) for d in range(1, doors + 1)
            ]
        else:
            units = 1
            name = f"{self.number}{'组' if rng.random() < 0.7 else '排'}"
            self.slots = [("", f"{n}号") for n in range(1, rng.randint(15, 36))]
        self.slots.reverse()
        return name, units

    def next_door(self):
        """(building_or_None_if_same, unit, door); a new (name, units) when a building starts."""
        started = None
        while True:
            if not self.slots:
                started = self._new_building()
            unit, door = self.slots.pop()
            if self.rng.random() < 0.08:  # an empty flat
                continue
            return started, unit, door
