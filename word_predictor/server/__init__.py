"""The HTTP server: a JSON API over one predictor and a page that suggests words as you type.

    engine.py    a run folder (or, later, an exported folder) -> an Engine: the predictor and what it is
    batching.py  requests that arrive together -> one model call, in a worker thread
    limits.py    every cap in one place (body, text, k, words, wall time, request head, connections)
    schemas.py   the API's requests and answers (pydantic), so /docs shows their schema
    errors.py    every error as a 4xx with a one-line JSON body
    hosts.py     the Host check: only requests addressed to this server (against DNS rebinding)
    connections.py  uvicorn's protocol with bounds on a request head and on open connections
    model_calls.py  what one batched model call does for suggest and complete
    sessions.py  a learner per user who names a session: what it learns, when, and its bounds (memory only)
    app.py       the routes, built by make_app(engine)
    static/      the page at / (plain HTML, CSS and JavaScript; nothing from the network)

The command is word_predictor/serve.py (python -m word_predictor.serve).
"""
