"""`python -m word_predictor.serve` runs the command (word_predictor/serve/command.py).

The command cannot be word_predictor/serve.py as the other commands are: a module and a
package of one name cannot live side by side, and the package wins."""

import sys

from word_predictor.serve.command import main

sys.exit(main())
