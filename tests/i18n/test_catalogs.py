"""The English and Traditional Chinese catalogs are complete and actually used.

Source strings are Simplified Chinese, so zh-hans needs no catalog.
Refresh with `fangkong makemessages -l en -l zh_Hant --ignore=.venv --ignore=var
--ignore=tests --ignore=benchmarks`, fill (scripts/i18n_fill.py), then
`fangkong compilemessages --ignore=.venv`.
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[2] / "fangkong" / "locale"
LANGS = ["en", "zh_Hant"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: {"msgid", "msgid_plural", "msgstr": [..], "flags"}; header and obsolete skipped."""
    entries, entry, key = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = line.strip()
        if line.startswith("#,"):
            flags = {f.strip() for f in line[2:].split(",")}
            entry = entry if entry and "msgid" not in entry else {"flags": set()}
            entry["flags"] |= flags
        elif line.startswith(("msgctxt", "msgid", "msgstr")):
            keyword, _, value = line.partition(" ")
            if keyword in ("msgctxt", "msgid") and entry and "msgstr" in entry:
                entries.append(entry)
                entry = None
            entry = entry or {"flags": set()}
            key = "msgstr" if keyword.startswith("msgstr") else keyword
            entry.setdefault("msgstr", []) if key == "msgstr" else None
            if key == "msgstr":
                entry["msgstr"].append(ast.literal_eval(value))
            else:
                entry[key] = ast.literal_eval(value)
        elif line.startswith('"') and entry is not None:
            if key == "msgstr":
                entry["msgstr"][-1] += ast.literal_eval(line)
            else:
                entry[key] += ast.literal_eval(line)
        elif not line and entry and "msgstr" in entry:
            entries.append(entry)
            entry, key = None, None
    return [e for e in entries if e.get("msgid")]


@pytest.fixture(params=LANGS)
def catalog(request):
    return request.param, parse_po(LOCALE / request.param / "LC_MESSAGES" / "django.po")


def test_catalog_is_not_empty(catalog):
    lang, entries = catalog
    assert len(entries) > 100, lang


def test_every_entry_is_translated_and_not_fuzzy(catalog):
    lang, entries = catalog
    untranslated = [e["msgid"] for e in entries if not all(s.strip() for s in e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"{lang}: untranslated {untranslated}"
    assert not fuzzy, f"{lang}: fuzzy {fuzzy}"


def test_placeholders_are_kept(catalog):
    lang, entries = catalog
    wrong = [
        (e["msgid"], s)
        for e in entries
        for s in e["msgstr"]
        if sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(e["msgid"]))
    ]
    assert not wrong, f"{lang}: placeholders differ {wrong}"


def test_compiled_catalog_matches_po(catalog):
    """The committed .mo holds every translation of the .po (i.e. compilemessages was re-run)."""
    lang, entries = catalog
    with open(LOCALE / lang / "LC_MESSAGES" / "django.mo", "rb") as fh:
        mo = gettext.GNUTranslations(fh)
    stale = []
    for e in entries:
        if "msgid_plural" in e:
            got = mo.ngettext(e["msgid"], e["msgid_plural"], 1)
        elif "msgctxt" in e:
            got = mo.pgettext(e["msgctxt"], e["msgid"])
        else:
            got = mo.gettext(e["msgid"])
        if got != e["msgstr"][0]:
            stale.append(e["msgid"])
    assert not stale, f"{lang}: .mo out of date, run compilemessages: {stale[:10]}"


def test_traditional_catalog_has_no_simplified_leftovers():
    entries = parse_po(LOCALE / "zh_Hant" / "LC_MESSAGES" / "django.po")
    simplified = set("们这个为发说录务区划户级础员账号网页码线计划页")
    bad = [s for e in entries for s in e["msgstr"] if simplified & set(s)]
    assert not bad, bad


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [("en", "Log in", "登录"), ("zh-hant", "登錄", "登录"), ("zh-hans", "登录", "Log in")],
)
def test_login_page_is_translated(client, language, expected, absent):
    # LocaleMiddleware picks the language per request, so send it as a browser would.
    with translation.override(language):
        response = client.get(reverse("login"), headers={"accept-language": language})
    assert response.status_code == 200
    html = response.content.decode()
    assert expected in html
    assert absent not in html
    assert f'<html lang="{language}">' in html
