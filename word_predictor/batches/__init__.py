"""Two ways to feed text to the model, one interface, picked by `config.context`
(kinds.KINDS, the one list of them):

    "window"  windows.WindowContext   windows of --window-size tokens, shuffled;
                                      the model sees only those tokens
    "full"    full_context.FullContext  the running text in lanes, read in chunks of
                                      --bptt tokens, the state carried between chunks

Each context answers the same questions, so the trainer, evaluate, predict,
generate and the TensorBoard samples never ask which one they have. Those that need
no Keras (kinds.ContextKind: what it carries between calls, the input length, how a
text is cut, which settings it leaves unused, how it exports) are asked by the
settings, the model factory, the exporter and the runtime through kinds.kind_of;
the Keras contexts add:

    min_tokens                        the fewest tokens a corpus needs
    block_size(tokens)                length of the blocks dealt to train/validation/test
    check_training_split(split)       ValueError if the settings cannot train on it
    training_model(facts, on_gpu, use_cudnn)  the view fit() trains (model.build_model)
    training_batches(split, epoch)    a PyDataset with examples_per_epoch, targets_per_epoch
    has_validation_targets(split)     whether the split holds a target to score (the
                                      reader scores it: training.validation)
    reader(inference_model)           a reader with
        start(contexts)                   logits of the token after each context, and a state
        advance(state, next_ids)          logits after one more token per context
        scored(split, batch_size)         (logits, targets) for every scored target
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from word_predictor.batches.kinds import CONTEXTS, KINDS, ContextKind, kind_of  # noqa: F401

if TYPE_CHECKING:
    from word_predictor.config import Config


def context_for(config: Config):
    """The Keras context of `config` (a subclass of its kind); build it once per run and pass it on.

    Keras loads here, not when this package is imported: word_predictor.config and the
    runtime read batches.kinds without it."""
    from word_predictor.batches.full_context import FullContext
    from word_predictor.batches.windows import WindowContext

    kind = kind_of(config)  # ValueError names the valid contexts
    return {context.name: context for context in (WindowContext, FullContext)}[kind.name](config)
