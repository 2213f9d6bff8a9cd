"""One model call for a batch of requests: what the MicroBatchers run in the model thread.

Requests in one batch may ask for different k: the batch is read once with the largest
and each answer is cut to its own k (the ranking is the same, so the cut is exact).
Requests that differ in `include_unknown` are read in one call per setting. Requests with a
session are read by their session's learner, one call per session in the batch (by_session).
"""

from __future__ import annotations

from word_predictor.server.schemas import CompleteAnswer, Ranked, SuggestAnswer


def _ranked(pairs, k: int) -> list[Ranked]:
    return [Ranked(word=word, probability=probability) for word, probability in pairs[:k]]


def suggest_batch(predictor, requests: list) -> list[SuggestAnswer]:
    answers: list[SuggestAnswer | None] = [None] * len(requests)
    for include_unknown in (False, True):
        rows = [i for i, request in enumerate(requests) if request.include_unknown == include_unknown]
        if not rows:
            continue
        k = max(requests[i].k for i in rows)
        found = predictor.suggest_many([requests[i].text for i in rows], k, include_unknown)
        for i, suggestions in zip(rows, found):
            answers[i] = SuggestAnswer(context=suggestions.context, unknown=suggestions.unknown,
                                       predictions=_ranked(suggestions.predictions, requests[i].k))  # fmt: skip
    return answers


def complete_batch(predictor, requests: list) -> list[CompleteAnswer]:
    """The likeliest completions of the word being typed, with their probabilities: word runs
    rank the known words with the typed prefix, character runs search the word's end with a
    small beam over characters (Predictor.complete picks by level)."""
    k = max(request.k for request in requests)
    found = predictor.complete_many([request.text for request in requests], k)
    return [
        CompleteAnswer(context=c.context, prefix=c.prefix, unknown=c.unknown, completions=_ranked(c.completions, r.k))
        for r, c in zip(requests, found)
    ]


def warm_up(predictor) -> None:
    """Call each model path before requests arrive, at a few batch sizes and text lengths: a
    Keras function is traced again for each new input shape until it has seen two (about
    a second each on TensorFlow), which would land on the first requests otherwise."""
    for words in (1, 2, 40):
        for rows in (1, 2, 3):
            predictor.suggest_many(["the " * words] * rows, 1)
    predictor.complete_many(["the th"], 1)
    predictor.generate("the", 2, temperature=0)


def by_session(function):
    """`function(predictor, requests)` for a batch of (request, session) pairs: each session's
    requests read by its own learner (each mixes in its own cache), a failure failing only
    that session's requests."""

    def batch(items: list) -> list:
        answers: list = [None] * len(items)
        groups: dict[int, list[int]] = {}
        for row, (_, session) in enumerate(items):
            groups.setdefault(id(session), []).append(row)
        for rows in groups.values():
            learner = items[rows[0]][1].learner
            try:
                found = function(learner, [items[row][0] for row in rows])
            except Exception as error:  # noqa: BLE001  (the batcher answers it to these requests alone)
                found = [error] * len(rows)
            for row, answer in zip(rows, found):
                answers[row] = answer
        return answers

    return batch


def warm_up_learning(learner) -> None:
    """warm_up for a session's learner, which reads through the model's hidden view: its
    functions are traced here, once for the model, rather than by the first sessions."""
    learner.learn("the cat sat on the mat ")
    for words in (1, 2, 40):
        for rows in (1, 2):
            learner.suggest_many(["the " * words] * rows, 1)
    learner.complete_many(["the th"], 1)
    learner.forget()
