"""The PyTorch reference the benchmarks time ours against: embedding, a stack of recurrent
layers, a linear layer to the vocabulary, dropout before and after the recurrent stack.

    tokens (time, lanes) or, batch_first, (batch, time)
      -> embedding -> dropout -> LSTM / GRU / RNN x layers (dropout between them)
      -> dropout -> linear -> logits (..., vocabulary), or the last step's with last_only

Imported only in the benchmarks' PyTorch child processes, so TensorFlow's and PyTorch's
thread pools never share a process.
"""

from __future__ import annotations

from torch import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "simple_rnn": nn.RNN}


class LanguageModel(nn.Module):
    """The reference network. `initial_range`: embedding and output weights uniform in
    +-range and the output bias zero, as the PyTorch word_language_model example starts
    (None: PyTorch's own initialisers). Made after torch.manual_seed, its weights depend only
    on the seed: the layers are made in one order, embedding, recurrent stack, output."""

    def __init__(self, vocabulary_size: int, embedding_dim: int, units: int, layers: int, dropout: float,
                 cell: str = "lstm", batch_first: bool = False, last_only: bool = False,
                 initial_range: float | None = None):  # fmt: skip
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        # nn.LSTM's `dropout` acts between layers, as our Dropout after each layer does.
        self.recurrent = CELLS[cell](embedding_dim, units, layers, batch_first=batch_first, dropout=dropout)
        self.output = nn.Linear(units, vocabulary_size)
        self.time_axis = 1 if batch_first else 0
        self.last_only = last_only
        if initial_range is not None:
            for weight in (self.embedding.weight, self.output.weight):
                nn.init.uniform_(weight, -initial_range, initial_range)
            nn.init.zeros_(self.output.bias)

    def forward(self, tokens, state=None):
        """(logits, the recurrent state after the last step); `state` None starts from zeros."""
        hidden, state = self.recurrent(self.dropout(self.embedding(tokens)), state)
        if self.last_only:
            hidden = hidden.select(self.time_axis, -1)
        return self.output(self.dropout(hidden)), state
