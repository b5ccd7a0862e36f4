"""xpnet's benchmark suite: ``pytest bench/`` (pytest-benchmark) and the ``xpnet bench`` command; see BENCHMARKS.md."""
