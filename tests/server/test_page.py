"""The page in a real browser: Debian's Chromium driven by Playwright, against a real server
on a loopback port and the tiny word run. (Playwright's own browser download cannot work
here; .ci/run installs the chromium package.)

Playwright runs here from a module fixture rather than pytest-playwright's session ones:
its sync API holds an event loop open in the main thread while it runs, and for a whole
session that would break every later test that calls asyncio.run()."""

from __future__ import annotations

import httpx2
import pytest

from word_predictor.server.app import make_app
from word_predictor.server.limits import Limits
from tests.server.live import live_server

pytestmark = pytest.mark.slow  # each test answers from a trained tiny run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


# Sessions off: the chips are then the model's own answers, which the API gives without a session
# (with one, what the page's session learned is mixed in: test_the_page_learns_... below).
WITHOUT_SESSIONS = Limits(sessions=0)


@pytest.fixture(scope="module")
def server(word_engine):
    with live_server(make_app(word_engine, WITHOUT_SESSIONS)) as url:
        yield url


def shown_words(page) -> list[str]:
    return page.eval_on_selector_all(".suggestion", "chips => chips.map(c => c.textContent ? c.dataset.word : '')")


def wait_for_words(page, words: list[str]) -> None:
    page.wait_for_function(
        "words => Array.from(document.querySelectorAll('.suggestion')).map(c => c.textContent ? c.dataset.word : '')"
        ".join('|') === words.join('|')",
        arg=words, timeout=10_000,
    )  # fmt: skip


def api_words(server: str, route: str, text: str, k: int = 3) -> list[str]:
    answer = httpx2.post(f"{server}/v1/{route}", json={"text": text, "k": k}).json()
    return [entry["word"] for entry in answer["predictions" if route == "suggest" else "completions"]]


def endings(server: str, text: str, k: int = 3) -> list[str]:
    """The API's completions of the word being typed, less the typed word itself (the page's rule)."""
    answer = httpx2.post(f"{server}/v1/complete", json={"text": text, "k": k + 1}).json()
    return [entry["word"] for entry in answer["completions"] if entry["word"] != answer["prefix"]][:k]


def offers_for(page) -> str:
    return page.locator("#offers-for").inner_text()


def test_typing_shows_the_api_s_suggestions_and_a_key_accepts_one(page, server):
    page.goto(server)
    page.wait_for_selector("#model dd")  # the model panel is filled
    box = page.locator("#text")
    sentence = "the cat sat on "
    box.press_sequentially(sentence, delay=30)  # key by key, as a person types
    expected = api_words(server, "suggest", sentence)
    assert len(expected) == 3
    wait_for_words(page, expected)
    box.press("Alt+2")
    assert box.input_value() == f"{sentence}{expected[1]} "
    assert "keystrokes saved: " in page.locator("#saved").inner_text()
    assert not page.locator("#saved").inner_text().startswith("keystrokes saved: 0")

    box.press_sequentially("the m", delay=30)  # a word being typed: its completions
    typed = f"{sentence}{expected[1]} the m"
    completions = endings(server, typed)
    wait_for_words(page, completions + [""] * (3 - len(completions)))
    box.press("Tab")
    assert box.input_value() == f"{sentence}{expected[1]} the {completions[0]} "


def test_write_on_streams_generated_words_into_the_box(page, server):
    page.goto(server)
    page.wait_for_selector("#model dd")
    box = page.locator("#text")
    box.fill("the cat")
    page.click("#write-on")
    page.wait_for_function("document.getElementById('write-on').textContent === 'write on' && "
                           "document.getElementById('text').value.split(/\\s+/).length >= 22", timeout=20_000)  # fmt: skip
    written = box.input_value().split()
    assert written[:2] == ["the", "cat"] and len(written) == 22  # the page asks for 20 words
    assert page.locator("#status").inner_text() == ""


@pytest.fixture(scope="module")
def char_server(char_engine):
    with live_server(make_app(char_engine, WITHOUT_SESSIONS)) as url:
        yield url


def test_on_a_character_run_the_page_offers_next_characters_and_finishes_the_word(page, char_server):
    """A character run: the chips are the API's next characters, and Tab finishes the word
    being typed with the API's likeliest completion."""
    page.goto(char_server)
    page.wait_for_selector("#model dd")
    box = page.locator("#text")
    typed = "the ca"
    box.press_sequentially(typed, delay=30)
    names = {" ": "space", "\n": "new line", "\t": "tab"}
    expected = [names.get(c, c) for c in api_words(char_server, "suggest", typed)]
    wait_for_words(page, expected)
    completions = endings(char_server, typed, 1)
    assert completions and completions[0].startswith("ca")
    page.wait_for_function("text => document.getElementById('completion').textContent === text",
                           arg=f"Tab: {completions[0]}", timeout=10_000)  # fmt: skip
    box.press("Tab")
    assert box.input_value() == f"the {completions[0]}"


def test_the_first_suggestions_are_labelled_as_the_start_of_a_text_not_the_placeholder_s(page, server):
    """With the box empty, the chips offer a text's first words: a label says so, and the
    placeholder is no sentence they could seem to continue."""
    page.goto(server)
    page.wait_for_selector("#model dd")
    wait_for_words(page, api_words(server, "suggest", ""))
    assert offers_for(page) == "First words of a new text:"
    placeholder = page.locator("#text").get_attribute("placeholder")
    assert placeholder == "Start typing here."
    page.locator("#text").press_sequentially("the cat ", delay=30)
    wait_for_words(page, api_words(server, "suggest", "the cat "))
    page.wait_for_function("document.getElementById('offers-for').textContent === 'Next word:'", timeout=10_000)


def test_a_fully_typed_word_is_not_offered_as_its_own_completion(page, server):
    typed = "some of them look"
    assert "look" in api_words(server, "complete", typed, 4)  # the API ranks the typed word among its completions
    page.goto(server)
    page.wait_for_selector("#model dd")
    page.locator("#text").press_sequentially(typed, delay=30)
    expected = endings(server, typed)
    assert expected and "look" not in expected
    wait_for_words(page, expected + [""] * (3 - len(expected)))
    assert offers_for(page) == "Words that finish the one you are typing:"


def test_docs_works_with_the_network_cut_off(page, server):
    """Swagger UI at /docs comes from this server: with every other address refused, it still
    shows the API (a CDN's script would leave the page blank)."""
    local = server.rstrip("/")
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "word_predictor" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock-summary-path", has_text="/v1/suggest").count() == 1


@pytest.fixture(scope="module")
def learning_server(word_engine):
    with live_server(make_app(word_engine)) as url:
        yield url


def learned_on_page(page) -> list[str]:
    return page.eval_on_selector_all("#learned li", "items => items.map(item => item.textContent)")


def test_the_page_learns_what_is_typed_in_its_own_session_and_forget_drops_it(page, learning_server):
    page.goto(learning_server)
    page.wait_for_selector("#model dd")
    assert "never written to disk" in page.locator("#learning").inner_text()
    assert page.locator("#forget").is_visible()
    box = page.locator("#text")
    box.press_sequentially("the cat and zorblax sat on the mat . the dog and zorblax sat on the rug . ", delay=10)
    page.wait_for_function("Array.from(document.querySelectorAll('#learned li')).map(i => i.textContent)"
                           ".join('|') === 'zorblax (2)'", timeout=15_000)  # fmt: skip
    session = page.evaluate("SESSION")  # the tab's own id
    assert httpx2.get(f"{learning_server}/v1/sessions/{session}").json()["words"] == [{"word": "zorblax", "count": 2}]
    box.press_sequentially("the bird sang and zor", delay=10)
    page.wait_for_function("Array.from(document.querySelectorAll('.suggestion')).some(c => c.dataset.word === "
                           "'zorblax' && c.textContent)", timeout=15_000)  # fmt: skip
    box.press_sequentially("blax ", delay=10)
    page.wait_for_function("Array.from(document.querySelectorAll('#learned li')).map(i => i.textContent)"
                           ".join('|') === 'zorblax (3)'", timeout=15_000)  # fmt: skip
    page.click("#forget")
    page.wait_for_function("document.querySelectorAll('#learned li').length === 0 && "
                           "document.getElementById('remembered').textContent === 'Nothing learned yet.'",
                           timeout=10_000)  # fmt: skip
    kept = httpx2.get(f"{learning_server}/v1/sessions/{session}")  # none, or the fresh one the page starts at once
    assert kept.status_code == 404 or (kept.json()["words"], kept.json()["positions"]) == ([], 0)
    box.press_sequentially("and the cat sat ", delay=10)  # typing on: the text left in the box is not learned back
    page.wait_for_function("document.getElementById('remembered').textContent.startsWith('It remembers')",
                           timeout=10_000)  # fmt: skip
    assert learned_on_page(page) == [] and httpx2.get(f"{learning_server}/v1/sessions/{session}").json()["words"] == []
    other = httpx2.post(f"{learning_server}/v1/complete", json={"text": "the bird sang and zor", "k": 10})
    assert "zorblax" not in [entry["word"] for entry in other.json()["completions"]]  # never without a session


def test_a_server_without_sessions_says_the_page_learns_nothing(page, server):
    page.goto(server)
    page.wait_for_selector("#model dd")
    page.wait_for_function("document.getElementById('learning').textContent.startsWith('It learns nothing here')",
                           timeout=10_000)  # fmt: skip
    assert "--max-sessions 0" in page.locator("#learning").inner_text()
    assert not page.locator("#forget").is_visible()
