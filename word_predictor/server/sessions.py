"""Sessions: a learner of its own for each user who sends a "session" id, kept in memory only.

    POST /v1/suggest {"text": "i met zorblax at ", "session": "tab-4f2c"}
      1. the session is found, or made (open)
      2. the answer is read with the session's cache mixed in, on the model thread
      3. the answer is sent; only then is the text handed to the learning thread (learn_later)

A client sends the whole text at every keystroke. The learning thread learns, from each
text, the words finished since the session's last one (new_tokens): a word is finished
once a space follows it. A session's first text is where it starts, not what it learns
(it was there before the session: restored by a reload, or left in the box after the
user forgot the session, which must not learn it straight back). What was learned stays
learned when the user goes back:

    learned "i met zorblax at"    text "i met zorblax at the "    the new word: "the"
    learned "i met zorblax at"    text "i met zorb"  or  ""       nothing (a part of it: backspace, cleared)
    learned "i met zorblax at"    text "i met bob "               "bob", read after "i met" (an edit)

so a word deleted and typed again is learned once, and an edit is read after the text
before it. The cache cannot unlearn a word the user erased; it ages out with the oldest
positions, and DELETE /v1/sessions/{id} forgets everything at once.

Bounds (server/limits.py): at most `sessions` sessions, each caching at most
`session_positions` words; the least recently used is dropped to make room, unless it
was used in the last `busy_seconds` (a flood of new ids), when the new one is refused;
a session idle for `session_idle_seconds` is forgotten. Nothing is ever written to disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from word_predictor.adaptation.settings import CacheSettings
from word_predictor.errors import AdaptationUnavailable
from word_predictor.predictor.adaptive import AdaptivePredictor
from word_predictor.server.limits import Limits

BUSY_SECONDS = 1.0  # a session used this recently is never dropped to make room

log = logging.getLogger(__name__)


class SessionRefused(ValueError):
    """A session that cannot be given: `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def new_tokens(learned: list[str], finished: list[str]) -> tuple[int, list[str]]:
    """(how many tokens of `finished` the new ones follow, the new ones): what a text whose
    finished tokens are `finished` adds to the `learned` ones (see the module docstring)."""
    common = 0
    for old, new in zip(learned, finished):
        if old != new:
            break
        common += 1
    return common, finished[common:]


class Session:
    """One user's learner and the text it learned from (both touched by the learning thread only).

    At most one typed text and one whole text (score's) wait to be learned, each the newest
    (an older one is replaced: a typed text holds the one before it), and no text teaches
    more than the cache keeps: so the learning thread's queue and work stay bounded."""

    def __init__(self, learner: AdaptivePredictor, now: float):
        self.learner = learner
        self.typed: list[str] | None = None  # the finished tokens seen: the longest text, edits applied
        self.used = now
        self._lock = threading.Lock()  # guards what waits between the event loop and the learning thread
        self._waiting: dict[str, str] = {}  # "typed" and "whole": the newest text of each not yet learned
        self._scheduled = False

    def wait_for_learning(self, text: str, whole: bool = False) -> bool:
        """Keep `text` as the next to learn; True when no learning of this session is
        scheduled yet (the caller schedules learn_waiting)."""
        with self._lock:
            self._waiting["whole" if whole else "typed"], scheduled = text, self._scheduled
            self._scheduled = True
        return not scheduled

    def learn_waiting(self) -> list[str]:
        """On the learning thread: learn what the waiting texts add; the new words picked up."""
        with self._lock:
            waiting, self._waiting, self._scheduled = self._waiting, {}, False
        picked = []
        if "whole" in waiting:  # a text of its own (score): every word, then back to the typed text
            picked += self._learn([], self.learner.tokenize(waiting["whole"]))
            self.learner.read_after(self.typed or [])
        if "typed" in waiting:
            text = waiting["typed"]
            tokens = self.learner.tokenize(text)
            finished = tokens if text[-1:].isspace() else tokens[:-1]  # the last word may still be typed
            if self.typed is None:  # the first text: where the session starts (module docstring)
                self.typed = finished
                self.learner.read_after(finished)
                return picked
            common, fresh = new_tokens(self.typed, finished)
            if fresh:  # read after the text before them: all that was learned, or what precedes an edit
                self.typed = finished
                picked += self._learn(finished[:common], fresh)
        return picked

    def _learn(self, before: list[str], fresh: list[str]) -> list[str]:
        """Learn `fresh` read after `before`; only the words the cache can keep."""
        kept = self.learner.cache.settings.size + 1  # the first has no position of its own without text before it
        if len(fresh) > kept:
            before, fresh = before + fresh[:-kept], fresh[-kept:]
        self.learner.read_after(before)
        return self.learner.learn_tokens(fresh)


class Sessions:
    """The sessions of one server over `predictor`'s model (module docstring)."""

    def __init__(self, predictor, limits: Limits, *, busy_seconds: float = BUSY_SECONDS,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.predictor, self.limits, self.busy_seconds, self.clock = predictor, limits, busy_seconds, clock
        self.settings = CacheSettings(size=limits.session_positions)
        self.unavailable = "sessions are off on this server (--max-sessions 0)" if limits.sessions == 0 else None
        if self.unavailable is None:
            try:
                predictor.hidden_reader()
            except AdaptationUnavailable as error:
                self.unavailable = f"this server cannot keep sessions: {error}"
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._learning = ThreadPoolExecutor(1, thread_name_prefix="learning")

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, name: str) -> Session:
        """The session `name`, made if new; SessionRefused where none can be had."""
        if self.unavailable:
            raise SessionRefused(400, self.unavailable)
        now = self.clock()
        self.expire(now)
        session = self._sessions.get(name)
        if session is None:
            self._make_room(now)
            session = self._sessions[name] = Session(AdaptivePredictor.over(self.predictor, self.settings), now)
        self._sessions.move_to_end(name)
        session.used = now
        return session

    def _make_room(self, now: float) -> None:
        if len(self._sessions) < self.limits.sessions:
            return
        oldest = next(iter(self._sessions.values()))
        if now - oldest.used < self.busy_seconds:
            raise SessionRefused(429, f"too many sessions at once (all {self.limits.sessions} were used in the "
                                      f"last {self.busy_seconds:g} s); try again shortly")  # fmt: skip
        self._sessions.popitem(last=False)

    def find(self, name: str) -> Session | None:
        """The session `name` if it is kept (this does not count as using it)."""
        self.expire(self.clock())
        return self._sessions.get(name)

    def forget(self, name: str) -> bool:
        """Drop the session `name` and all it learned; False if there was none. A learning
        still running for it finishes on the dropped learner, which nothing reads again."""
        return self._sessions.pop(name, None) is not None

    def expire(self, now: float | None = None) -> int:
        """Forget the sessions idle for `session_idle_seconds`; how many were."""
        now = self.clock() if now is None else now
        dropped = 0
        while self._sessions and now - next(iter(self._sessions.values())).used >= self.limits.session_idle_seconds:
            self._sessions.popitem(last=False)
            dropped += 1
        return dropped

    def learn_later(self, session: Session, text: str, whole: bool = False) -> None:
        """Learn what the typed `text` adds (or, `whole`, every word of it), on the learning
        thread, after what is queued there."""
        if session.wait_for_learning(text, whole):
            self._learning.submit(session.learn_waiting).add_done_callback(_log_failure)

    def learned(self, session: Session):
        """A future of (the new words learned with their counts, positions cached), read on
        the learning thread once what was queued before it is learned."""
        return self._learning.submit(lambda: (session.learner.learned(), len(session.learner.cache)))

    def close(self) -> None:
        self._learning.shutdown(wait=False, cancel_futures=True)


def _log_failure(future) -> None:
    """A learning that failed is a bug: said in the log; the answer was sent already."""
    if not future.cancelled() and future.exception() is not None:
        log.error("learning failed", exc_info=future.exception())


def counted(learned: Counter) -> list[dict]:
    """The learned words, most typed first, as the API lists them."""
    return [{"word": word, "count": count} for word, count in learned.most_common()]
