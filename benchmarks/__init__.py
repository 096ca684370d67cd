"""Scale benchmarks for mlmroi (not part of the test suite): ``python -m benchmarks.tree_pass`` and
``python -m benchmarks.end_to_end``; see ``benchmarks/README.md``."""
