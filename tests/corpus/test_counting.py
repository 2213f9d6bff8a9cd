"""CountTable: bounded counting keeps its promises.
"""

import collections

from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor.corpus.counting import CountTable


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefghijklmnop") | st.text("xyz", min_size=2, max_size=4)),
                max_size=12), st.integers(2, 12))  # fmt: skip
def test_count_table_bounds_hold(pieces, limit):
    table = CountTable(limit)
    for piece in pieces:
        counts = collections.Counter(piece)
        table.merge(list(counts), list(counts.values()))
        assert len(table) <= limit
    true = collections.Counter(token for piece in pieces for token in piece)
    for token, n in true.items():
        assert table.counts.get(token, 0) <= n <= table.counts.get(token, 0) + table.floor
    assert table.peak <= limit
    if len(true) <= limit:
        assert table.floor == 0 and table.counts == dict(true)

