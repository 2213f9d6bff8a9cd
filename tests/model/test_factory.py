import numpy as np
import pytest

from tests.helpers import FACTS, VOCABULARY, tiny_batches, tiny_config
from word_predictor.config import CELLS, CorpusFacts
from word_predictor.backend import keras
from word_predictor.model.layers import OUTPUT_LAYER
from word_predictor.model.compile import compile_model
from word_predictor.model.factory import build_model, copy_weights
from word_predictor.rundir import load_model, save_model_atomic


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_cell_builds_and_takes_a_training_step(cell, bidirectional):
    config = tiny_config(cell=cell, bidirectional=bidirectional, layers=2,
                         targets="last" if bidirectional else "all")  # fmt: skip
    model = build_model(config, FACTS, "training")
    compile_model(model, config)
    before = [w.copy() for w in model.get_weights()]
    data = tiny_batches(config)
    loss = model.train_on_batch(*data[0])
    assert np.isfinite(loss).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    expected = (8, config.window_size, VOCABULARY) if config.targets == "all" else (8, VOCABULARY)
    assert model.predict_on_batch(data[0][0]).shape == expected


def test_bidirectional_layers_wrap_the_cell():
    model = build_model(tiny_config(cell="gru", bidirectional=True, targets="last", layers=2), FACTS)
    names = [layer.name for layer in model.layers]
    assert "bidirectional_1" in names and "bidirectional_2" in names
    assert model.get_layer("bidirectional_1").forward_layer.__class__.__name__ == "GRU"


def test_unknown_cell_lists_the_valid_ones():
    with pytest.raises(ValueError, match="simple_rnn, lstm, gru"):
        build_model(tiny_config(cell="transformer"), FACTS)


def test_bidirectional_cannot_predict_every_position():
    with pytest.raises(ValueError, match="use targets last with bidirectional"):
        build_model(tiny_config(bidirectional=True, targets="all"), FACTS)


def test_one_hot_input_matches_vocabulary():
    model = build_model(tiny_config(one_hot=True), FACTS)
    assert model.get_layer("one_hot").compute_output_shape((None, 4)) == (None, 4, VOCABULARY)
    assert "embedding" not in [layer.name for layer in model.layers]


def test_inference_view_reads_the_last_position():
    config = tiny_config(dropout=0.0)
    training = build_model(config, FACTS, "training")
    inference = copy_weights(training, build_model(config, FACTS))
    contexts = np.array([[1, 2, 3, 4], [4, 3, 2, 1]], dtype=np.int32)
    logits = inference.predict_on_batch(contexts)
    assert logits.shape == (2, VOCABULARY)
    np.testing.assert_allclose(logits, training.predict_on_batch(contexts)[:, -1, :], rtol=1e-5, atol=1e-6)
    # a shorter context runs too
    assert inference.predict_on_batch(contexts[:, :2]).shape == (2, VOCABULARY)


@pytest.mark.parametrize("one_hot", [False, True])
def test_save_load_gives_identical_predictions(tmp_path, one_hot):
    config = tiny_config(one_hot=one_hot, cell="lstm")
    model = build_model(config, FACTS, "training")
    compile_model(model, config)
    model.train_on_batch(*tiny_batches(config)[0])
    inference = copy_weights(model, build_model(config, FACTS))
    save_model_atomic(inference, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    contexts = np.array([[1, 2, 3, 4]], dtype=np.int32)
    np.testing.assert_array_equal(inference.predict_on_batch(contexts), loaded.predict_on_batch(contexts))


@pytest.mark.parametrize("cell", CELLS)
def test_fixed_length_training_model_holds_the_same_weights(cell):
    config = tiny_config(cell=cell, layers=2)
    training = build_model(config, FACTS, "training", fixed_length=True)
    assert training.input_shape == (None, config.window_size)
    copy = copy_weights(training, build_model(config, FACTS))
    assert copy.input_shape == (None, None)
    windows = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.int32)
    np.testing.assert_allclose(
        training.predict_on_batch(windows)[:, -1], copy.predict_on_batch(windows), rtol=1e-5, atol=1e-6
    )
    # the copy also reads a shorter context, which the training model cannot
    assert copy.predict_on_batch(windows[:, :2]).shape == (2, VOCABULARY)


def test_tied_weights_share_the_embedding_matrix(tmp_path):
    config = tiny_config(tie_weights=True, units=3, embedding_dim=3, dropout=0.0)
    model = build_model(config, FACTS, "training")
    assert OUTPUT_LAYER not in [layer.name for layer in model.layers]
    compile_model(model, config)
    model.train_on_batch(*tiny_batches(config)[0])
    embedding = model.get_layer("embedding")
    # fewer weights than an untied model: no separate (units, vocabulary) output matrix
    untied = build_model(tiny_config(units=3, embedding_dim=3), FACTS, "training")
    assert model.count_params() == untied.count_params() - 3 * VOCABULARY
    # the logits are the last hidden state times the embedding matrix, transposed, plus a bias
    hidden = keras.Model(model.input, model.get_layer("dropout_1").output).predict_on_batch(np.array([[1, 2, 3, 4]]))
    expected = hidden @ keras.ops.convert_to_numpy(embedding.embeddings).T + keras.ops.convert_to_numpy(embedding.bias)
    np.testing.assert_allclose(model.predict_on_batch(np.array([[1, 2, 3, 4]])), expected, rtol=1e-4, atol=1e-5)
    save_model_atomic(model, tmp_path / "tied.keras")
    np.testing.assert_allclose(
        load_model(tmp_path / "tied.keras").predict_on_batch(np.array([[1, 2, 3, 4]])), expected, rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize(
    "overrides, message",
    [({"weight_drop": 1.0}, "weight_drop must be at least 0 and below 1"),
     ({"tie_weights": True, "one_hot": True}, "one-hot"),
     ({"context": "full", "bidirectional": True, "targets": "last"}, "bidirectional"),
     ({"bptt": 0}, "bptt, embedding_dim, batch_size must each be at least 1")],  # fmt: skip
)
def test_settings_that_cannot_work_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_model(tiny_config(**overrides), FACTS)


@pytest.mark.parametrize("tie_weights", [False, True])
def test_embedding_and_output_start_uniform_in_a_tenth(tie_weights):
    # Keras' defaults (+-0.05, Glorot) left a two-layer full-context LSTM at the unigram
    # distribution for ~600 steps on WikiText-2; the reference models' +-0.1 does not.
    config = tiny_config(units=64, embedding_dim=64, tie_weights=tie_weights)
    model = build_model(config, CorpusFacts(vocabulary_size=5000), "training")
    names = ["embedding"] if tie_weights else ["embedding", OUTPUT_LAYER]
    for name in names:
        matrix = np.asarray(model.get_layer(name).get_weights()[0])
        assert np.abs(matrix).max() <= 0.1 and np.abs(matrix).max() > 0.099
        assert abs(float(matrix.std()) - 0.1 / np.sqrt(3)) < 0.002  # the spread of U(-0.1, 0.1)
