"""The eval harness of newsrag (``rag eval``, ``python -m evals``): retrieval, citation
faithfulness, answer correctness, abstention and latency over a question dataset.

``evals`` depends on ``rag``; ``rag`` never imports ``evals``. Modules: :mod:`evals.datasets`
(loading), :mod:`evals.metrics` (pure metric functions), :mod:`evals.judge` (support
judges and their calibration), :mod:`evals.run` (the run), :mod:`evals.report` (report.md,
plots, ``--compare``), :mod:`evals.cli` (the command).
"""
