"""The README and docs/ hold together: every relative link and image points at a file that
exists (and at a heading that exists, for a link with #anchor), and the server's answers
shown in docs/serving.md have the fields and types the server's schemas give them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SOURCE = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text without fenced blocks and inline code, where a bracket is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of the page; a repeated heading's later anchors get -1, -2, ..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = anchor(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def broken_links(page: Path) -> list[str]:
    """Each relative link or image of `page` that does not resolve, as 'target: why'."""
    text = prose(page.read_text(encoding="utf-8"))
    problems = []
    for target in LINK.findall(text) + HTML_SOURCE.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            problems.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{target}: no heading with that anchor in {linked.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_and_image_resolves(page):
    assert broken_links(page) == []


def test_the_checker_finds_a_missing_file_a_missing_image_and_a_missing_heading(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[ok](there.md#a-heading) [gone](gone.md) ![picture](missing.png)\n"
        "[wrong](there.md#no-such-heading) [self](#page) [here](#elsewhere) [web](https://example.com)\n"
        "`[not a link](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "gone.md: no such file",
        "missing.png: no such file",
        "there.md#no-such-heading: no heading with that anchor in there.md",
        "#elsewhere: no heading with that anchor in page.md",
    ]


def test_anchors_follow_github_s_rule():
    assert anchor("18. Several devices and processes (keras.distribution on JAX)") == (
        "18-several-devices-and-processes-kerasdistribution-on-jax"
    )
    assert anchor("`python -m word_predictor.runs`") == "python--m-word_predictorruns"


def test_the_readme_stays_short_and_keeps_the_test_command_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "tests_tensorflow() { .venv/bin/python -m pytest; }" in ci
    assert "\npython -m pytest\n" in readme


def documented_answers(page: Path) -> dict[str, list[dict]]:
    """The JSON answers docs/serving.md shows after each `curl .../v1/ROUTE`: the `# ...`
    lines that follow the command, joined, per route (NDJSON and elided answers skipped)."""
    answers: dict[str, list[dict]] = {}
    lines = page.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        route = re.search(r"curl .*?/v1/(\w+)", line)
        if not route:
            continue
        shown, following = [], number + 1
        while following < len(lines) and not lines[following].startswith("# "):
            following += 1  # the command's continuation lines
        while following < len(lines) and lines[following].startswith("# "):
            shown.append(lines[following][2:].strip())
            following += 1
        try:
            answers.setdefault(route.group(1), []).append(json.loads("".join(shown)))
        except json.JSONDecodeError:
            continue
    return answers


def test_the_api_answers_shown_in_the_docs_match_the_server_s_schemas():
    schemas = pytest.importorskip("word_predictor.server.schemas", reason="the serve extra is not installed")
    models = {"suggest": schemas.SuggestAnswer, "complete": schemas.CompleteAnswer, "score": schemas.ScoreAnswer}
    answers = documented_answers(ROOT / "docs" / "serving.md")
    assert set(models) <= set(answers), "serving.md shows an answer for suggest, complete and score"
    for route, model in models.items():
        for answer in answers[route]:
            if "error" in answer:  # an error is one field, one line
                assert set(answer) == {"error"} and isinstance(answer["error"], str)
                continue
            assert set(answer) <= set(model.model_fields), f"{route}: fields the server does not send"
            model.model_validate(answer)  # a null probability, or a missing field, fails here


CITATION = re.compile(r"docs/([\w.-]+\.md),[\s#]*\"([^\"]+)\"")


def citations(text: str) -> list[tuple[str, str]]:
    """(page, heading) for each `docs/PAGE.md, "Heading"` in a source file's text; a heading
    wrapped over comment lines is joined back."""
    return [(page, " ".join(heading.replace("#", " ").split())) for page, heading in CITATION.findall(text)]


def test_every_docs_heading_cited_in_the_code_exists():
    cited = 0
    for folder in ("word_predictor", "benchmarks", "tests"):
        for source in sorted((ROOT / folder).rglob("*.py")):
            if source == Path(__file__).resolve():
                continue  # this file's own examples
            for page, heading in citations(source.read_text(encoding="utf-8")):
                headings = HEADING.findall(FENCE.sub("", (ROOT / "docs" / page).read_text(encoding="utf-8")))
                assert any(heading in found for found in headings), f"{source.name}: docs/{page} has no {heading!r}"
                cited += 1
    assert cited >= 10  # the citations this test guards are found at all


def test_a_citation_wrapped_over_comment_lines_is_read_whole():
    assert citations('x (docs/usage.md,\n    # "Exit\n    # codes").') == [("usage.md", "Exit codes")]
