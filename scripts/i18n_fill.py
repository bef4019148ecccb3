"""Fill the translation catalogs after `fangkong makemessages`.

Not a project dependency: run it with a throwaway venv that has polib and
opencc-python-reimplemented, e.g.

    python3 -m venv /tmp/i18nvenv
    /tmp/i18nvenv/bin/pip install polib opencc-python-reimplemented
    /tmp/i18nvenv/bin/python scripts/i18n_fill.py [--en-map FILE.py]

zh_Hant: every empty or fuzzy entry is converted from its Simplified msgid
(OpenCC s2tw character forms, no vocabulary changes, plus a few fixes below).
en: entries are filled from --en-map (a Python file defining EN = {msgid: str}
and EN_PLURAL = {msgid: [singular, plural]}); whatever is still empty or fuzzy
is listed so that a person translates it.
"""

import argparse
import runpy
import sys
from datetime import datetime
from pathlib import Path

import opencc
import polib

LOCALE = Path(__file__).resolve().parent.parent / "fangkong" / "locale"

# After s2tw: prefer the forms common to Taiwan and Hong Kong usage.
HANT_FIXES = {
    "臺": "台",  # 後台, 平台, 工作台, 台灣
    "賬號": "帳號",
    "賬戶": "帳戶",
    "年曆史": "年歷史",  # 數年歷史 (several years of history), not 年曆 (calendar)
}

HEADER = {
    "Project-Id-Version": "fangkong",
    "Last-Translator": "fangkong <noreply@example.invalid>",
    "Language-Team": "",
}


S2TW = opencc.OpenCC("s2tw")


def to_hant(text: str) -> str:
    text = S2TW.convert(text)
    for simplified, traditional in HANT_FIXES.items():
        text = text.replace(simplified, traditional)
    return text


def todo(entry: polib.POEntry) -> bool:
    if entry.obsolete:
        return False
    if entry.fuzzy:
        return True
    if entry.msgid_plural:
        return not all(entry.msgstr_plural.values())
    return not entry.msgstr


def clean(po: polib.POFile, language: str) -> None:
    po.header = f"fangkong {language} catalog. Filled by scripts/i18n_fill.py, then reviewed.\n"
    po.metadata.update(HEADER)
    po.metadata["Language"] = language
    po.metadata_is_fuzzy = []
    if po.metadata.get("PO-Revision-Date", "").startswith("YEAR") or any(map(todo, po)):
        po.metadata["PO-Revision-Date"] = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M%z")
    for entry in [e for e in po if e.obsolete]:
        po.remove(entry)


def unfuzz(entry: polib.POEntry) -> None:
    if "fuzzy" in entry.flags:
        entry.flags.remove("fuzzy")
    entry.previous_msgid = None
    entry.previous_msgid_plural = None
    entry.previous_msgctxt = None


def fill_hant() -> int:
    path = LOCALE / "zh_Hant" / "LC_MESSAGES" / "django.po"
    po = polib.pofile(str(path), wrapwidth=79)
    clean(po, "zh_Hant")
    changed = 0
    for entry in po:
        if not todo(entry):
            continue
        if entry.msgid_plural:
            entry.msgstr_plural = {0: to_hant(entry.msgid)}
        else:
            entry.msgstr = to_hant(entry.msgid)
        unfuzz(entry)
        changed += 1
        print(f"zh_Hant: {entry.msgid} => {entry.msgstr or entry.msgstr_plural[0]}")
    po.save(str(path))
    return changed


def fill_en(en_map: Path | None) -> tuple[int, list[str]]:
    path = LOCALE / "en" / "LC_MESSAGES" / "django.po"
    po = polib.pofile(str(path), wrapwidth=79)
    clean(po, "en")
    table = runpy.run_path(str(en_map)) if en_map else {}
    singular, plural = table.get("EN", {}), table.get("EN_PLURAL", {})
    changed, missing = 0, []
    for entry in po:
        if not todo(entry):
            continue
        if entry.msgid_plural and entry.msgid in plural:
            entry.msgstr_plural = dict(enumerate(plural[entry.msgid]))
        elif not entry.msgid_plural and entry.msgid in singular:
            entry.msgstr = singular[entry.msgid]
        else:
            missing.append(entry.msgid)
            continue
        unfuzz(entry)
        changed += 1
    po.save(str(path))
    return changed, missing


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--en-map", type=Path)
    args = parser.parse_args()
    hant = fill_hant()
    en, missing = fill_en(args.en_map)
    print(f"zh_Hant filled: {hant}; en filled: {en}; en still to translate: {len(missing)}")
    for msgid in missing:
        print(f"  en missing: {msgid}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
