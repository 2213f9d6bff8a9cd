"""The Keras backend, chosen before Keras loads, and Keras itself, imported once and quietly.

    select("jax")                          sets KERAS_BACKEND; every command calls it first
    from word_predictor.backend import keras   the first such import loads Keras

Importing this module alone does not load Keras (`keras` is looked up lazily, through
the module's `__getattr__`), so commands that need no model (`python -m
word_predictor.runs`) start in a fraction of a second, and a command can choose the
backend after parsing its flags.

TensorFlow 2.21 prints CUDA probing and oneDNN notices straight to file descriptor 2
before its log settings apply, burying our one-line messages. They are shown if the
import fails, or always with WORD_PREDICTOR_TF_LOGS=1.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
from pathlib import Path

from word_predictor.config import PRECISIONS
from word_predictor.errors import UserError, warn

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"
# What installs each backend, for the one line that says one is missing.
INSTALL = {
    "tensorflow": "pip install -r requirements.txt",
    "jax": "pip install -r requirements-jax.txt",
    "torch": "pip install torch --index-url https://download.pytorch.org/whl/cpu",
}


class BackendError(UserError, ValueError):
    """A backend that cannot be used here: unknown, not installed, or a second one in one process."""


def requested() -> str:
    """The backend asked for by the environment: KERAS_BACKEND, else TensorFlow."""
    return os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND


def installed() -> list[str]:
    """The backends whose package (and Keras) can be imported here, without importing them."""
    if importlib.util.find_spec("keras") is None:
        return []
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def select(name: str | None, on_note=warn) -> str:
    """Make `name` (None: the environment's choice) the backend Keras will load with.

    Call it before anything imports Keras. Keras reads KERAS_BACKEND once, when it is
    first imported, so a second, different choice in the same process cannot work.
    When nobody asked for a backend (no KERAS_BACKEND) and the default is not
    installed, one that is is used, and `on_note` says so in one line.
    """
    name = name or requested()
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r} (from --backend or KERAS_BACKEND); choose one of "
                           f"{', '.join(BACKENDS)}")
    loaded = _loaded_backend()
    if loaded is not None and loaded != name:
        raise BackendError(
            f"Keras is already loaded with the {loaded} backend in this process, so it cannot "
            f"switch to {name}; choose the backend before Keras is imported"
        )
    if loaded is None:
        name = _installed_choice(name, on_note)
    os.environ["KERAS_BACKEND"] = name
    return name


def _installed_choice(name: str, on_note) -> str:
    available = installed()
    if name in available:
        return name
    if not available:
        raise BackendError(f"no Keras backend is installed; install one: {INSTALL[DEFAULT_BACKEND]} "
                           f"(TensorFlow), or {INSTALL['jax']} (JAX, no TensorFlow)")
    if name == DEFAULT_BACKEND and not os.environ.get("KERAS_BACKEND"):
        on_note(f"{DEFAULT_BACKEND} is not installed, so the {available[0]} backend runs the model "
                f"(pass --backend to choose)")
        return available[0]
    raise BackendError(f"the {name} backend is not installed; install it with {INSTALL[name]}, or pass --backend "
                       f"{available[0]} (installed here: {', '.join(available)})")


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """--backend {tensorflow,jax,torch}, defaulting to KERAS_BACKEND or TensorFlow."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=requested(),  # an unknown name in KERAS_BACKEND is refused by select()
        help="Keras backend that runs the model (default: the KERAS_BACKEND environment variable, "
        "else tensorflow); its package must be installed",
    )


def _loaded_backend() -> str | None:
    module = sys.modules.get("keras")
    backend = getattr(module, "backend", None)
    return backend.backend() if backend is not None and hasattr(backend, "backend") else None


def _import_keras_quietly():
    if os.environ.get("WORD_PREDICTOR_TF_LOGS") or requested() != "tensorflow":
        import keras

        return keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe, while still quiet
            tf.get_logger().addFilter(_expected_retracing)
        except Exception:  # what the libraries logged may explain why the import failed; after
            # Ctrl-C (a KeyboardInterrupt, no Exception) it is noise before "interrupted": kept out
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return keras


def _expected_retracing(record) -> bool:
    """A logging filter: drop TensorFlow's "triggered tf.function retracing" warning.

    Predicting on contexts of many lengths (a full-context run's samples and readers)
    traces Keras' predict step once per shape until its reduce_retracing option
    generalises the shape; that is expected and bounded, and the warning's advice does
    not apply. Every other TensorFlow message passes."""
    return "triggered tf.function retracing" not in record.getMessage()


def _keras():
    """Keras, imported on first use and then kept as an ordinary module attribute."""
    if "keras" not in globals():
        try:
            globals()["keras"] = _import_keras_quietly()
        except ImportError as error:  # a backend's package broken or half installed
            name = requested()
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BackendError(f"Keras cannot load the {name} backend ({reason}); reinstall it with "
                               f"{INSTALL.get(name, INSTALL[DEFAULT_BACKEND])}, or pass --backend another") from None
    return globals()["keras"]


def __getattr__(name: str):
    # PEP 562: Python calls this only for names the module does not define (yet), which
    # is how `from word_predictor.backend import keras` reaches _keras().
    if name == "keras":
        return _keras()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def use_compilation_cache(folder: Path) -> None:
    """On JAX, keep compiled training and prediction steps in `folder` (under the
    logdir's cache), so the next run of the same shapes skips most of its start-up
    compilation; other backends have nothing to keep."""
    if _keras().backend.backend() != "jax":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def gpu_available() -> bool:
    """Whether the Keras backend sees a GPU (any backend; Keras' own list lacks torch)."""
    keras = _keras()
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.is_available()
    return any(device.lower().startswith("gpu") for device in keras.distribution.list_devices())


def apply_precision(name: str) -> None:
    """Set Keras' global dtype policy: float32, or mixed precision with float32 weights.

    Build the model after this call; its layers take the policy when they are made.
    Every backend trains all three on a CPU as well as on a GPU (measured with each
    cell), though half precision only pays on a GPU. The one combination known to fail,
    JAX's cuDNN LSTM with bfloat16, is avoided by `use_cudnn`.
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    _keras().mixed_precision.set_dtype_policy(name)


def use_cudnn(precision: str) -> str | bool:
    """The recurrent layers' `use_cudnn` setting for this backend and precision.

    JAX's cuDNN LSTM kernel has no bfloat16 version ("Unknown output type bfloat16"),
    so that combination takes the generic loop; everywhere else Keras picks ("auto").
    """
    if precision == "mixed_bfloat16" and _keras().backend.backend() == "jax":
        return False
    return "auto"


def versions() -> dict:
    """The software a run is trained with, as config.json records it: Python, Keras, its
    backend, and each backend library loaded."""
    keras = _keras()
    loaded = {package: sys.modules.get(package) for package in ("tensorflow", "jax", "torch")}
    return {"python": platform.python_version(), "keras": keras.__version__, "backend": keras.backend.backend(),
            **{package: module.__version__ for package, module in loaded.items() if hasattr(module, "__version__")}}
