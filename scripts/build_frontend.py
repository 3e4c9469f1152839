"""Copy the NHS.UK frontend's compiled CSS, JavaScript and icons into the package.

The copy lives in ``src/yswd/adapters/http/static/nhsuk/`` and is committed, so that
``pip install .`` needs no npm. It comes from ``node_modules/nhsuk-frontend`` at the
version ``package-lock.json`` pins (``npm ci`` puts it there).

Two changes are made to the stylesheet, so that pages work offline and from
``/static/nhsuk/``: the ``@font-face`` rules that load Frutiger from assets.nhs.uk are
dropped (the stack falls back to Arial), and ``/assets/`` URLs point at the copied
icons. ``--check`` builds into a temporary folder and fails if the committed copy
differs, which ``scripts/test.sh`` runs.
"""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "node_modules" / "nhsuk-frontend"
DIST = PACKAGE / "dist" / "nhsuk"
TARGET = ROOT / "src" / "yswd" / "adapters" / "http" / "static" / "nhsuk"
#: the icons the stylesheet itself refers to (no NHS logo, no NHS favicon)
ICONS = (
    "nhsuk-icon-arrow-down.svg",
    "nhsuk-icon-arrow-up-down.svg",
    "nhsuk-icon-arrow-up.svg",
    "nhsuk-icon-cross.svg",
)
FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
SOURCE_MAP = re.compile(r"/\*# sourceMappingURL=[^*]*\*/|//# sourceMappingURL=\S+")


def locked_version() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    version: str = lock["packages"]["node_modules/nhsuk-frontend"]["version"]
    return version


def build(out: Path) -> None:
    version = json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))["version"]
    if version != locked_version():
        sys.exit(f"node_modules has nhsuk-frontend {version}, the lock {locked_version()}: npm ci")
    out.mkdir(parents=True, exist_ok=True)
    css = (DIST / f"nhsuk-frontend-{version}.min.css").read_text(encoding="utf-8")
    css = FONT_FACE.sub("", css)
    css = SOURCE_MAP.sub("", css).replace("url(/assets/", "url(assets/")
    (out / "nhsuk-frontend.min.css").write_text(css, encoding="utf-8")
    js = (DIST / f"nhsuk-frontend-{version}.min.js").read_text(encoding="utf-8")
    (out / "nhsuk-frontend.min.js").write_text(SOURCE_MAP.sub("", js), encoding="utf-8")
    icons = out / "assets" / "images"
    icons.mkdir(parents=True, exist_ok=True)
    for name in ICONS:
        shutil.copyfile(DIST / "assets" / "images" / name, icons / name)
    (out / "VERSION").write_text(
        f"nhsuk-frontend {version} (MIT licence), copied by scripts/build_frontend.py\n",
        encoding="utf-8",
    )


def same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(a / d, b / d) for d in compared.common_dirs)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp) / "nhsuk")
            if not TARGET.exists() or not same_tree(Path(tmp) / "nhsuk", TARGET):
                print(
                    f"{TARGET} differs from the locked nhsuk-frontend: "
                    "run python3 scripts/build_frontend.py and commit it"
                )
                return 1
        print(f"static/nhsuk matches nhsuk-frontend {locked_version()}")
        return 0
    if TARGET.exists():
        shutil.rmtree(TARGET)
    build(TARGET)
    print(f"copied nhsuk-frontend {locked_version()} into {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
