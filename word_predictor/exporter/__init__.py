"""Run -> exported folder: the model as a stateless step in another format, the vocabulary
and a manifest, complete on its own (see manifest.py for the folder's layout).

    FORMATS      format name -> the module that writes it, each with the same interface:
                 write(config, weights, folder, model) -> (model file, logits' output name, states)
    weights.py   read_weights(model, config): the Keras weights as NumPy arrays, by layer
    folder.py    export_run(run, format, out): written into a temporary folder, renamed at the end
    manifest.py  the manifest and its checks (no Keras: the runtime reads it)

The command is word_predictor/export.py (python -m word_predictor.export).

Importing this package loads neither Keras nor a converter: each format's module is
imported when it is asked for, so a missing extra is named then, in one line.
"""
