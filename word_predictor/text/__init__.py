"""Text -> tokens and back: the rules, the tokenizers that pick them, the vocabulary."""

from word_predictor.text.tokenizer import (  # noqa: F401
    ASCII_WORDS,
    CHARACTERS,
    TOKENIZERS,
    VERSIONS,
    UNICODE_WORDS,
    Tokenizer,
    normalise,
    tokenizer_for,
    words,
)
from word_predictor.text.vocabulary import (  # noqa: F401
    UNKNOWN_ID,
    UNKNOWN_TOKEN,
    VOCABULARY_FORMAT,
    Vocabulary,
    sha256_of,
)
