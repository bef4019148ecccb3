from fangkong.people.models import Person

from .base import WorldTestCase


class WorldSmokeTest(WorldTestCase):
    def test_world_builds_people_with_sealed_identity(self):
        self.assertEqual(Person.objects.count(), 2)
        person = self.w.person_a
        self.assertEqual(person.doc_masked[:4], "3709")
        self.assertNotIn(person.document_number, person.doc_sealed)

    def test_population_is_kept_up_the_tree(self):
        self.w.county.refresh_from_db()
        self.w.township_a.refresh_from_db()
        self.assertEqual(self.w.county.population, 2)
        self.assertEqual(self.w.township_a.population, 1)
