"""The API's requests and answers. Requests are strict (a string is not a number) and refuse
unknown fields, so a typo such as "topk" is an error rather than a silent default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from word_predictor.server.limits import Limits


SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]+$"  # it is also a path segment (DELETE /v1/sessions/{id})


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


def request_models(limits: Limits) -> dict[str, type[BaseModel]]:
    """The request bodies, with the caps of `limits` in their schema."""
    def session_field(description: str):
        return Field(None, min_length=1, max_length=limits.session_id_chars, pattern=SESSION_ID_PATTERN,
                     description=f"{description}; letters, digits, - and _ (none: nothing is learned)")  # fmt: skip

    typing = "a session: its learning mixed into the answer, and it then learns the words finished in `text`"

    class SuggestRequest(Strict):
        text: str = Field(max_length=limits.text_chars, description="the text so far")
        k: int = Field(3, ge=1, le=limits.max_k, description="how many next words")
        include_unknown: bool = Field(False, description="allow the unknown-word symbol")
        session: str | None = session_field(typing)

    class CompleteRequest(Strict):
        text: str = Field(max_length=limits.text_chars, description="the text so far, ending in the word being typed")
        k: int = Field(3, ge=1, le=limits.max_k, description="how many completions")
        session: str | None = session_field(typing)

    class GenerateRequest(Strict):
        text: str = Field("", max_length=limits.text_chars, description="the text to continue; empty: a new text")
        words: int = Field(20, ge=1, le=limits.max_words, description="tokens to write (characters for a char run)")
        temperature: float = Field(1.0, ge=0, le=100, allow_inf_nan=False, description="0 is greedy")
        top_k: int = Field(0, ge=0, description="draw among the k likeliest (0: off)")
        top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="nucleus mass (1: off)")
        seed: int | None = Field(None, ge=0, lt=2**63, description="the same seed writes the same text")

    class ScoreRequest(Strict):
        text: str = Field(min_length=1, max_length=limits.score_chars, description="the text to score")
        session: str | None = session_field("a session that then learns every word of the text (the figures are the same)")

    return {"suggest": SuggestRequest, "complete": CompleteRequest, "generate": GenerateRequest,
            "score": ScoreRequest}  # fmt: skip


class Ranked(BaseModel):
    word: str
    probability: float


class SuggestAnswer(BaseModel):
    context: list[str]
    unknown: list[str]
    predictions: list[Ranked]


class CompleteAnswer(BaseModel):
    context: list[str]
    prefix: str
    unknown: list[str]
    completions: list[Ranked]


class ScoreAnswer(BaseModel):
    tokens: int
    perplexity: float
    bits_per_token: float
    bits_per_word: float | None = None
    bits_per_character: float | None = None
    top1: float
    top5: float
    keystroke_savings: float | None = None


class LearnedWord(BaseModel):
    word: str
    count: int  # the cached positions it follows: how often it was typed, within the cache


class SessionAnswer(BaseModel):
    session: str
    words: list[LearnedWord]  # the words outside the vocabulary it learned, most typed first
    positions: int  # the words it keeps (at most the session_positions limit)


class SessionsInfo(BaseModel):
    available: bool
    reason: str | None  # why not, where not


class ModelAnswer(BaseModel):
    engine: str
    source: str
    level: str
    context: str
    window_size: int | None
    vocabulary_size: int
    cell: str
    layers: int
    units: int
    batching: bool
    sessions: SessionsInfo
    limits: dict


class HealthAnswer(BaseModel):
    status: str
    requests: int
    model_calls: int
