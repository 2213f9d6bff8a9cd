"""Two ways to feed text to the model, one interface, picked by `config.context`:

    "window"  windows.WindowContext   windows of --window-size tokens, shuffled;
                                      the model sees only those tokens
    "full"    lanes.FullContext       the running text in lanes, read in chunks of
                                      --bptt tokens, the state carried between chunks

Each context answers the same questions, so the trainer, evaluate, predict,
generate and the TensorBoard samples never ask which one they have:

    min_tokens                        the fewest tokens a corpus needs
    block_size(tokens)                length of the blocks dealt to train/validation/test
    check_training_split(split)       ValueError if the settings cannot train on it
    training_model(on_gpu, use_cudnn) the view fit() trains (model.build_model)
    training_batches(split, epoch)    a PyDataset with examples_per_epoch, targets_per_epoch
    has_validation_targets(split)     whether the split holds a target to score
    validated_by                      "fit" (Keras evaluates validation_batches(split))
                                      or "reader" (scored through the reader); see
                                      training.validation
    reader(inference_model)           a reader with
        start(contexts)                   logits of the token after each context, and a state
        advance(state, next_ids)          logits after one more token per context
        scored(split, batch_size)         (logits, targets) for every scored target
"""

from __future__ import annotations

from word_predictor.batches.full_context import FullContext
from word_predictor.batches.windows import WindowContext
from word_predictor.config import Config

CONTEXTS = {"window": WindowContext, "full": FullContext}


def context_for(config: Config):
    if config.context not in CONTEXTS:
        raise ValueError(f"unknown context {config.context!r}; choose one of {', '.join(CONTEXTS)}")
    return CONTEXTS[config.context](config)
