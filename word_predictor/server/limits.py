"""Every cap the server puts on a request, in one place (docs/serving.md, "Limits and errors", lists them)."""

from __future__ import annotations

from dataclasses import dataclass

from word_predictor.adaptation.settings import CacheSettings


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 1_048_576  # a request body larger than this is refused (413)
    body_seconds: float = 10.0  # a body not received in this time is refused (408): a slow client
    text_chars: int = 10_000  # the text of suggest, complete and generate
    score_chars: int = 100_000  # the text of score
    max_k: int = 50  # suggestions or completions per answer
    max_words: int = 500  # tokens one generate request may write
    generate_seconds: float = 20.0  # wall time of one generation; it ends there, saying so
    # What a connection may hold (word_predictor/server/connections.py enforces them):
    head_seconds: float = 10.0  # a request line and headers not complete in this time: 408, closed
    head_bytes: int = 65_536  # a request head larger than this: 431, closed
    connections: int = 100  # connections open at once; the next one is answered 503 and closed
    # What sessions may hold (word_predictor/server/sessions.py): in memory only, so bounded
    sessions: int = 1000  # sessions kept at once, the least recently used dropped first (0: no sessions)
    session_positions: int = CacheSettings.size  # words one session's cache keeps, the oldest dropped first
    session_idle_seconds: float = 1800.0  # a session unused this long is forgotten
    session_id_chars: int = 64  # the longest session id


DEFAULT_LIMITS = Limits()
