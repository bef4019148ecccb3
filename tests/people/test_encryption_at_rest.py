"""The database never holds a plain ID number or phone, whatever the service did."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from fangkong.people import services
from fangkong.people.choices import DocumentType
from tests.base import WorldTestCase
from tests.factories import make_person, make_resident_id

ROOT = Path(__file__).resolve().parents[2]


def dump_database() -> str:
    """Every value of every table, as one string."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        value = bytes(value).decode("latin-1")
                    elif isinstance(value, dict | list):
                        value = json.dumps(value, ensure_ascii=False)
                    parts.append(str(value))
    return "\n".join(parts)


def secret_fragments(number: str, phone: str) -> list[str]:
    """The plain values and the parts the masks hide (with enough digits to be telling)."""
    return [number, number[4:14], number[-8:], phone, phone[:7], phone[-8:]]


class RawDatabaseTest(WorldTestCase):
    def test_raw_database_holds_no_plain_id_number_or_phone(self):
        w = self.w
        people = [
            ("370923197311280513", "13862345678"),
            (make_resident_id(birth=date(1962, 3, 9), male=False), "15987654321"),
            (make_resident_id(birth=date(2001, 12, 30)), "18623459876"),
        ]
        created = [
            make_person(w.grid_a_worker, w.grid_a, f"测试{i}", document_number=n, phone=p)
            for i, (n, p) in enumerate(people)
        ]
        new_phone = "17712349876"
        services.update_person(w.grid_a_worker, created[0], {"phone": new_phone, "address": "幸福路1号"})
        services.reveal_person(w.grid_a_worker, created[1], "核实身份信息")
        copy = services.create_person(w.hq, {"name": "测试2", "doc_type": DocumentType.NONE}, area=w.grid_a)
        services.merge_people(w.hq, copy, created[2], "重复登记")
        services.create_person(w.hq, {"name": "护照", "doc_type": DocumentType.PASSPORT,
                                      "document_number": "E98765432", "phone": "13512348765"}, area=w.grid_b)
        secrets = [f for n, p in people for f in secret_fragments(n, p)]
        secrets += [new_phone, "E98765432", "13512348765"]
        secrets += [w.person_a.document_number, w.person_a.phone, w.person_b.document_number]

        dump = dump_database()
        self.assertIn(created[0].doc_masked, dump)  # the dump does see the person table
        leaked = [s for s in secrets if s in dump]
        self.assertEqual(leaked, [], "plain identity values found in the database")


@pytest.mark.slow
def test_demo_database_file_holds_no_plain_id_number(tmp_path):
    """`fangkong demo` on a fresh install: the SQLite file bytes hold no plain ID or phone."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FANGKONG_DATA_KEY", "FANGKONG_DATA_KEY_FILE")}
    env["FANGKONG_VAR_DIR"] = str(tmp_path)
    fangkong = [sys.executable, "-m", "fangkong.cli"]
    subprocess.run([*fangkong, "demo", "--no-serve", "--people", "300", "--seed", "11"],
                   env=env, cwd=ROOT, check=True, timeout=900, capture_output=True)
    script = (
        "import json\n"
        "from fangkong.people.models import Person\n"
        "rows = Person.objects.exclude(doc_sealed='').order_by('id')[:25]\n"
        "print(json.dumps([[p.document_number, p.phone] for p in rows]))\n"
    )
    shown = subprocess.run([*fangkong, "shell", "-c", script], env=env, cwd=ROOT, check=True,
                           timeout=300, capture_output=True, text=True).stdout
    plain = json.loads(shown.strip().splitlines()[-1])
    assert len(plain) >= 10
    db = tmp_path / "fangkong.sqlite3"
    # Fold the WAL into the main file so that every written page is read.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("fangkong.sqlite3*"))
    for number, phone in plain:
        assert re.fullmatch(r"[0-9]{17}[0-9X]|[A-Z0-9]{5,20}", number)
        assert number.encode() not in raw
        if phone:
            assert phone.encode() not in raw
