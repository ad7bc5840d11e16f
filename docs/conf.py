"""Sphinx configuration of the sb3-reinforce documentation (``make docs``: docs/_build/html/index.html)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the source tree next to this file, whatever is installed
sys.path.insert(0, str(ROOT))

import sb3_reinforce  # noqa: E402

# -- Project information -----------------------------------------------------

project = "sb3-reinforce"
copyright = "sb3-reinforce contributors"
author = "sb3-reinforce contributors"
release = sb3_reinforce.__version__
version = release

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# Only these are pages: the data next to the markdown reports (docs/benchmark/*.csv, *.json, *.png), a --out folder
# of the comparison tool and anything else that lands under docs/ are not.
include_patterns = [
    "index.rst",
    "guide/*",
    "modules/*",
    "common/*",
    "misc/*",
    "benchmark.md",
    "benchmark/summary.md",  # the generated report that benchmark.md links to
    "compare.md",
    "masking/*/summary.md",  # the masked comparisons' reports (docs/guide/masking.rst)
    "performance.md",
    "mujoco.md",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
language = "en"
pygments_style = "sphinx"

# -- autodoc -----------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# -- MyST (the markdown reports and the repository's markdown files) ----------

myst_heading_anchors = 3

# -- HTML output -------------------------------------------------------------

html_theme = "sphinx_rtd_theme"
html_title = f"sb3-reinforce {release}"
html_show_sourcelink = False
html_copy_source = False
htmlhelp_basename = "sb3reinforcedoc"

# -- Markdown files from outside docs/ ---------------------------------------

# page -> markdown file of the repository whose text the page shows (the page's own text when the file is absent)
REPO_PAGES = {
    "guide/zoo_configs": "zoo_configs/README.md",
    "misc/changelog": "CHANGELOG.md",
}
MARKDOWN_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def repo_markdown(path: Path, docname: str, fallback_title: str) -> str:
    """
    The text of a markdown file of the repository, as the page ``docname`` of the site.

    Its relative links are written from the file's folder: they are rewritten from the page's folder when they
    point into docs/ (a page, an image, a data file), and become the plain file name otherwise (README.md, source
    files, ...: not part of the site). A file without a top-level heading gets ``fallback_title``.

    :param path: The markdown file
    :param docname: The page that shows it
    :param fallback_title: Title of the page if the file has none
    :return: the page's markdown source
    """
    page_dir = (DOCS / docname).parent

    def relink(match: re.Match) -> str:
        bang, label, target = match.groups()
        if target.startswith("#") or URL.match(target):
            return match.group(0)
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve()
        if resolved.is_relative_to(DOCS) and resolved.exists():
            new_target = os.path.relpath(resolved, page_dir) + (f"#{anchor}" if anchor else "")
            return f"{bang}[{label}]({new_target})"
        return f"{label} (`{file}`)" if label and label != file else f"`{file}`"

    text = MARKDOWN_LINK.sub(relink, path.read_text(encoding="utf-8"))
    if not any(line.startswith("# ") for line in text.splitlines()):
        text = f"# {fallback_title}\n\n{text}"
    return text


def _read_repo_page(app, docname: str, source: list[str]) -> None:
    if docname not in REPO_PAGES:
        return
    path = ROOT / REPO_PAGES[docname]
    app.env.note_dependency(str(path))  # re-read the page when the file changes, appears or goes
    if path.is_file():
        title = next((line[2:] for line in source[0].splitlines() if line.startswith("# ")), path.stem)
        source[0] = repo_markdown(path, docname, title)


def _policy_in_signature(app, what, name, obj, options, signature, return_annotation):
    """
    An algorithm's signature is its constructor's (its ``__new__`` only checks the keywords, with ``*args, **kwargs``),
    and an algorithm that inherits the constructor shows its own policy base (MaskableREINFORCE: MaskableReinforcePolicy;
    MaskableRecurrentREINFORCE: MaskableRecurrentReinforcePolicy).
    """
    base = getattr(obj, "policy_base", None) if what == "class" else None
    if base is None:
        return signature, return_annotation
    from sphinx.util.inspect import signature as constructor_signature
    from sphinx.util.inspect import stringify_signature

    constructor = constructor_signature(obj.__init__, bound_method=True)
    signature = stringify_signature(constructor, show_return_annotation=False, unqualified_typehints=True)
    import re

    own = f"type[~{base.__module__}.{base.__name__}]"
    return re.sub(r"type\[~?[\w.]*ReinforcePolicy\]", lambda _: own, signature), return_annotation


def setup(app):
    app.connect("source-read", _read_repo_page)
    app.connect("autodoc-process-signature", _policy_in_signature)
