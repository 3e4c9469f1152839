"""The public pages' Welsh catalog: extract, update and check it (Babel, gettext).

    python scripts/i18n.py extract   # the templates and Python -> locale/messages.pot
    python scripts/i18n.py update    # new messages into locale/cy/LC_MESSAGES/messages.po
    python scripts/i18n.py check     # fails if the .pot is stale or a Welsh entry is
                                     # missing, fuzzy, has other placeholders or won't compile

Messages come from the public templates and the HTTP adapter's Python (``babel.cfg``),
and from the tables Python builds page words from (status and channel labels, the
self-assessment stages, the date errors), which no extractor can see. There is no
``compile`` step to remember: the app compiles each ``.po`` in memory when it starts
(``yswd.adapters.http.language``), so no ``.mo`` is committed to go stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "babel.cfg"
LOCALE = ROOT / "src" / "yswd" / "adapters" / "http" / "locale"
TEMPLATE = LOCALE / "messages.pot"
LANGUAGES = ("cy",)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
#: %(name)s placeholders, as Jinja's newstyle gettext and Python both fill them
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
#: a % that is not a placeholder nor "%%": newstyle gettext formats every message, so it fails
BARE_PERCENT = re.compile(r"%(?!\(\w+\)[sd])")
PROJECT = "yswd"
#: the catalogs' dates are fixed so that extracting twice changes nothing
STAMP = datetime(2026, 12, 1, tzinfo=UTC)


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "messages.po"


def python_words() -> Iterator[tuple[str, str]]:
    """(message, where) for the words Python makes for public pages."""
    from yswd.adapters.http.api.public import _date_or_error
    from yswd.adapters.http.labels import CHANNEL_LABELS, PUBLIC_STATUS_LABELS
    from yswd.aggregates.errors import InvalidInput
    from yswd.aggregates.self_assessment import STAGES
    from yswd.application.gap_boxes import SUGGESTION_MAX, GapBoxes

    for status in PUBLIC_STATUS_LABELS.values():
        yield status, "yswd/adapters/http/labels.py:PUBLIC_STATUS_LABELS"
    for channel in CHANNEL_LABELS.values():
        yield channel, "yswd/adapters/http/labels.py:CHANNEL_LABELS"
    for stage in STAGES.values():
        yield stage, "yswd/aggregates/self_assessment.py:STAGES"
    for label in ("from", "up to"):  # the metrics page's two date boxes
        _, error = _date_or_error("not a date", label)
        assert error is not None
        yield error, "yswd/adapters/http/api/public.py:_date_or_error"
    # the gap box form shows why a suggestion was refused; the text is checked before
    # anything else, so a bare service is enough to hear the four refusals
    for suggestion in ("", "x" * (SUGGESTION_MAX + 1), "a\x07b", "a\u202eb"):
        try:
            object.__new__(GapBoxes).suggest("box", suggestion, "client")
        except InvalidInput as refused:
            yield refused.message, "yswd/application/gap_boxes.py:GapBoxes.suggest"


def extracted() -> Catalog:
    """Every message the public pages show, as a fresh template catalog."""
    with MAPPING.open(encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping, str(MAPPING))
    catalog = Catalog(
        project=PROJECT,
        copyright_holder=PROJECT,
        creation_date=STAMP,
        revision_date=STAMP,
        fuzzy=False,
    )
    found = extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    )
    for filename, line, message, comments, context in found:
        catalog.add(
            message, None, [(filename, line)], auto_comments=comments, context=context
        )
    for message, where in python_words():
        path, _, name = where.partition(":")
        catalog.add(message, None, [(f"src/{path}", 0)], auto_comments=[name])
    return catalog


def _key(message: Message) -> object:
    return message.id if not message.context else (message.id, message.context)


def _ids(catalog: Catalog) -> set[object]:
    return {_key(message) for message in catalog if message.id}


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    # no line numbers: the catalogs change only when the messages do
    write_po(buffer, catalog, width=100, include_lineno=False)
    path.write_bytes(buffer.getvalue())


def read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=language)


def extract() -> None:
    template = extracted()
    write(template, TEMPLATE)
    print(f"wrote {TEMPLATE.relative_to(ROOT)} ({len(template)} messages)")


def update() -> None:
    template = read(TEMPLATE)
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = read(path, language)
            # no guessing from similar messages: a new message starts empty, never "fuzzy"
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            catalog.obsolete.clear()
        else:
            catalog = Catalog(locale=language, project=PROJECT, creation_date=STAMP)
            catalog.update(template)
        catalog.revision_date = STAMP
        write(catalog, path)
        untranslated = sum(1 for message in catalog if message.id and not message.string)
        print(f"updated {path.relative_to(ROOT)}: {untranslated} to translate")


def _strings(message: Message) -> list[str]:
    value = message.string
    return [value] if isinstance(value, str) else list(value)


def _msgids(message: Message) -> list[str]:
    return [message.id] if isinstance(message.id, str) else list(message.id)


def problems(language: str) -> list[str]:
    """Everything wrong with one language's catalog, one line each (empty when all is well)."""
    found: list[str] = []
    template = extracted()
    if not TEMPLATE.exists() or _ids(read(TEMPLATE)) != _ids(template):
        found.append(f"{TEMPLATE.name} is stale: run `python scripts/i18n.py extract`")
    path = po_path(language)
    if not path.exists():
        return [*found, f"{path} is missing: run `python scripts/i18n.py update`"]
    catalog = read(path, language)
    missing = _ids(template) - _ids(catalog)
    found += [f"{language}: not in the catalog: {key!r}" for key in sorted(missing, key=str)]
    for message in catalog:
        if not message.id:
            continue
        strings = _strings(message)
        if not all(text.strip() for text in strings):
            found.append(f"{language}: not translated: {message.id!r}")
            continue
        if message.fuzzy:
            found.append(f"{language}: fuzzy (needs a check): {message.id!r}")
        wanted = {name for text in _msgids(message) for name in PLACEHOLDER.findall(text)}
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != wanted:
                found.append(f"{language}: placeholders differ in {message.id!r}: {text!r}")
        for text in [*_msgids(message), *strings]:
            if BARE_PERCENT.search(text.replace("%%", "")):
                found.append(f"{language}: a bare % (write %%) in {message.id!r}: {text!r}")
    found += [f"{language}: {error}" for _, errors in catalog.check() for error in errors]
    try:
        write_mo(BytesIO(), catalog)
    except Exception as error:  # any failure to compile is the finding
        found.append(f"{language}: does not compile: {error}")
    return found


def check() -> int:
    found = [line for language in LANGUAGES for line in problems(language)]
    for line in found:
        print(line)
    print("catalogs are up to date" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


def main(argv: list[str]) -> int:
    commands = {"extract": extract, "update": update}
    if argv[1:] == ["check"]:
        return check()
    if len(argv) == 2 and argv[1] in commands:
        commands[argv[1]]()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
