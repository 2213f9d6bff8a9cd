"""Folders of .txt files -> a token store on disk -> train, validation and test splits."""

from word_predictor.corpus import store  # noqa: F401
from word_predictor.corpus.build import (  # noqa: F401
    PIECE_SIZE,
    NoProgress,
    Progress,
    build_corpus,
    encode_files,
)
from word_predictor.corpus.counting import COUNT_LIMIT, CountTable, count_limit_for  # noqa: F401
from word_predictor.corpus.files import (  # noqa: F401
    ENCODING_ERRORS,
    READ_SIZE,
    CorpusError,
    Piece,
    find_text_files,
    plan_pieces,
    read_tokens,
)
from word_predictor.corpus.splits import (  # noqa: F401
    SPLITS,
    Corpus,
    Split,
    block_splits,
    split_bounds,
    split_segments,
    window_block_size,
)
from word_predictor.corpus.workers import PARALLEL_BYTES  # noqa: F401
