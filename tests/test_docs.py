"""README.md and the docs/ pages: every relative link and image points at a file that exists,
and every ``#anchor`` at a heading of its page, as GitHub and the MkDocs site name them. Links to
other sites are not checked (no network here). ``./dev docs`` (mkdocs --strict, in CI) checks the
built site too; this test runs with the suite and needs nothing but the files."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 300  # the user's path stays short; the rest lives in docs/

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose(text: str, code_spans: bool = False) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out unless
    ``code_spans`` (a link inside backticks is text, not a link)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif m.group(1).startswith(fence):
                fence = None
            out.append("")
            continue
        if fence or code_spans:
            out.append("" if fence else line)
        else:
            out.append(re.sub(r"(`+)(.+?)\1", lambda c: " " * len(c.group(0)), line))
    return out


def _heading_text(raw: str) -> str:
    """A heading as rendered text: code spans keep their content, links their text, bold and
    italic asterisks go."""
    text = re.sub(r"`+([^`]*)`+", r"\1", raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"\*+", "", text).strip()


def slug_mkdocs(text: str) -> str:
    """Python-Markdown's toc slugify (MkDocs' default)."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def slug_github(text: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen."""
    value = re.sub(r"[^\w\- ]", "", text.lower())
    return value.replace(" ", "-")


def anchors(path: Path) -> tuple[set[str], set[str]]:
    """The anchors of a Markdown file's headings: (MkDocs', GitHub's), duplicates numbered."""
    mk: dict[str, int] = {}
    gh: dict[str, int] = {}
    out_mk, out_gh = set(), set()
    for line in _prose(path.read_text(encoding="utf-8"), code_spans=True):
        m = HEADING.match(line)
        if not m:
            continue
        text = _heading_text(m.group(2))
        for slug, seen, out, sep in ((slug_mkdocs(text), mk, out_mk, "_"),
                                     (slug_github(text), gh, out_gh, "-")):  # fmt: skip
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}{sep}{n}")
    return out_mk, out_gh


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for no, line in enumerate(_prose(path.read_text(encoding="utf-8")), 1):
        found += [(no, m.group(1)) for m in LINK.finditer(line)]
    return found


def _local(target: str) -> bool:
    return not re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", target, re.I)


def test_the_pages_have_links_to_check():
    assert len(PAGES) >= 10
    assert sum(len(links(p)) for p in PAGES) > 50
    assert "quickstart" in slug_mkdocs("Quick start").replace("-", "")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page: Path):
    problems = []
    for no, target in links(page):
        if not _local(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        where = f"{page.relative_to(ROOT)}:{no}: {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file")
            continue
        if page.parent == DOCS and DOCS not in (dest, *dest.parents):
            problems.append(f"{where}: outside docs/ (the site cannot link it; use a URL)")
        if anchor and dest.suffix == ".md":
            mk, gh = anchors(dest)
            if anchor not in gh:
                problems.append(f"{where}: no heading with GitHub's anchor #{anchor}")
            if page.parent == DOCS and anchor not in mk:
                problems.append(f"{where}: no heading with MkDocs' anchor #{anchor}")
    assert not problems, "\n".join(problems)


def test_every_docs_page_is_in_the_site_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        assert re.search(rf":\s*{re.escape(page.name)}\s*$", nav, re.M), page.name


def test_readme_is_short_and_keeps_the_ci_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count("\n") <= README_MAX_LINES
    # .ci/run runs exactly the README's test command
    assert re.search(r"^\./dev test\b", text, re.M)
    assert re.search(r"^\./dev test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_slugs_follow_github_and_mkdocs():
    assert slug_github("Offline analysis: wot analyze") == "offline-analysis-wot-analyze"
    assert slug_mkdocs("Offline analysis: wot analyze") == "offline-analysis-wot-analyze"
    assert slug_github("The client's window: wot assess") == "the-clients-window-wot-assess"
    assert slug_github("Rest → stressor") == "rest--stressor"
    assert slug_mkdocs("Rest → stressor") == "rest-stressor"
    assert _heading_text("Replaying a recording: `wot replay`") == (
        "Replaying a recording: wot replay"
    )
