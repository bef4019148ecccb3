from django.test import TestCase

from .factories import World


class WorldTestCase(TestCase):
    """Builds the personas and two people once per class (see factories.World)."""

    @classmethod
    def setUpTestData(cls):
        cls.w = World()
