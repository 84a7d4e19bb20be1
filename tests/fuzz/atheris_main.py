"""Coverage-guided fuzzing of one target with atheris (libFuzzer): scripts/fuzz.sh runs it.

    .venv/bin/python -m tests.fuzz.atheris_main otlp_json -max_total_time=600 \
        tests/testdata/fuzz/otlp_json

New inputs that reach new code are written to the corpus folder given last; commit the
ones worth keeping (libFuzzer's -merge=1 keeps a minimal set). A finding is written as
crash-<sha1> in the working directory: add it to the corpus once fixed.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-not-found]  # optional: pip install '.[fuzz]'

with atheris.instrument_imports():
    from tests.fuzz.targets import MAX_INPUT, TARGETS


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.atheris_main {{{','.join(TARGETS)}}} "
                 "[libFuzzer options] [corpus folder]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], f"-max_len={MAX_INPUT}", "-rss_limit_mb=2048",
                   "-timeout=10", *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
