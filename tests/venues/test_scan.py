"""The scan: codes, device-bound tokens, the colour from the person's measures, signals."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangkong.declarations import services as declarations
from fangkong.policy.services import refresh_status
from fangkong.venues import services, tokens
from fangkong.venues.models import CheckIn
from fangkong.warning.models import Alert, Signal
from tests.base import WorldTestCase
from tests.factories import declaration_data, make_risk_area, make_venue

DEVICE = "device-secret-0123456789abcdef"


class ScanTests(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.venue = make_venue(cls.w.grid_a)

    def token_for(self, person):
        return tokens.personal_token(person.pk, DEVICE)

    def test_green_scan_checks_in_once_a_minute(self):
        code = services.code_of(self.venue)
        first = services.scan(code, self.token_for(self.w.person_a), DEVICE)
        self.assertEqual(first.colour, "green")
        again = services.scan(code, self.token_for(self.w.person_a), DEVICE)
        self.assertTrue(again.duplicate)
        self.assertEqual(CheckIn.objects.count(), 1)
        later = services.scan(code, self.token_for(self.w.person_a), DEVICE, now=timezone.now() + timedelta(minutes=2))
        self.assertFalse(later.duplicate)
        self.assertEqual(CheckIn.objects.count(), 2)

    def test_forged_and_revoked_codes_are_refused(self):
        token = self.token_for(self.w.person_a)
        with self.assertRaises(services.InvalidCode):
            services.scan(f"{self.venue.pk}.1.AAAAAAAAAAAAAAAAAAAAAAAA", token, DEVICE)
        old = services.code_of(self.venue)
        services.reissue_code(self.w.hq, self.venue)
        with self.assertRaises(services.InvalidCode):
            services.scan(old, token, DEVICE)
        services.scan(services.code_of(self.venue), token, DEVICE)

    def test_a_token_copied_to_another_device_is_refused(self):
        with self.assertRaises(services.InvalidToken):
            services.scan(services.code_of(self.venue), self.token_for(self.w.person_a), "another-device-0123456789")

    def test_home_isolation_shows_red_and_writes_a_signal(self):
        make_risk_area("110101", "medium")
        declaration, _ = declarations.submit_declaration(declaration_data(self.w.grid_a))
        result = services.scan(services.code_of(self.venue), self.token_for(declaration.person), DEVICE)
        self.assertEqual(result.colour, "red")
        signal = Signal.objects.get()
        self.assertEqual(signal.kind, "scan_red")
        self.assertEqual(signal.person, declaration.person)

    def test_a_red_scan_joins_the_open_alert_without_reading_area_outlines(self):
        from fangkong.areas.models import AreaOutline
        from fangkong.policy.services import impose_measure

        # An imported township outline can be megabytes: a scan must not read one.
        square = [[[117.0 + i / 1000, 36.0], [117.0, 36.0 + i / 1000], [117.0, 36.0]] for i in range(500)]
        for area in (self.w.township_a, self.w.village_a, self.w.grid_a):
            AreaOutline.objects.create(area=area, geometry={"type": "MultiPolygon", "coordinates": [square]})
        for person in (self.w.person_a, self.w.person_b):
            impose_measure(person, "close_contact", "测试", timezone.localdate())
            refresh_status(person)
        code = services.code_of(self.venue)
        self.assertEqual(services.scan(code, self.token_for(self.w.person_a), DEVICE).colour, "red")
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(services.scan(code, self.token_for(self.w.person_b), DEVICE).colour, "red")
        self.assertFalse([q["sql"] for q in queries.captured_queries if "outline" in q["sql"]])
        # The scan's transaction (a savepoint inside the test's) and one around the alert rules, so that a
        # failing rule cannot undo the check-in or the signal; applying a rule needs no savepoint of its own.
        self.assertEqual(sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries), 2)
        alert = Alert.objects.get()
        self.assertEqual((alert.size, alert.area), (2, self.w.township_a))
        self.assertEqual(set(alert.signals.values_list("person_id", flat=True)), {self.w.person_a.pk, self.w.person_b.pk})

    def test_home_monitoring_shows_yellow(self):
        from fangkong.policy.services import impose_measure

        impose_measure(self.w.person_b, "close_contact", "测试", timezone.localdate() - timedelta(days=15))
        status = refresh_status(self.w.person_b)
        self.assertEqual(status.colour, "yellow")

    def test_identify_links_an_existing_person_only_with_the_right_name(self):
        number = self.w.person_a.document_number
        with self.assertRaises(ValidationError):
            services.identify_visitor({"name": "别人", "document_number": number, "phone": "13800000000"},
                                      DEVICE, self.venue)
        person, token = services.identify_visitor({"name": "张三", "document_number": number,
                                                   "phone": "13800000000"}, DEVICE, self.venue)
        self.assertEqual(person, self.w.person_a)
        self.assertEqual(tokens.parse_personal_token(token, DEVICE), person.pk)

    def test_a_token_of_a_person_who_does_not_exist_is_refused(self):
        with self.assertRaises(services.InvalidToken):
            services.scan(services.code_of(self.venue), tokens.personal_token(999_999, DEVICE), DEVICE)
        self.assertFalse(CheckIn.objects.exists())
