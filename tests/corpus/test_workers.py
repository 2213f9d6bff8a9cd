"""corpus/workers.py's allocator settings: what the read frees goes back to the system."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.helpers import REPO

# A child with a heap of its own: 150 MB in blocks of 700 bytes (past Python's small-object
# allocator, under the fixed 1 MiB threshold, so from malloc's heap), all freed but the last,
# which keeps the heap's top in use so that only a trim of its middle can give pages back.
CHILD = textwrap.dedent("""
    import json
    from word_predictor.corpus.workers import fix_large_block_threshold, return_freed_memory

    def anonymous_mib():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024

    fix_large_block_threshold()
    blocks = [bytes(700) + i.to_bytes(4, "little") for i in range(200_000)]
    last = blocks[-1]
    del blocks
    freed = anonymous_mib()
    return_freed_memory()
    print(json.dumps({"freed": freed, "returned": anonymous_mib()}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is Linux's")
def test_the_memory_a_read_freed_is_returned_to_the_system():
    import json

    result = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    assert figures["freed"] - figures["returned"] > 100, figures  # MiB handed back
