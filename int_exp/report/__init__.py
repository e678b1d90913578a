"""The paper-style comparison, read back from MLflow, with 95% bootstrap intervals.

Rows are variants (seeds pooled); columns are pass@k and coverage per evaluation set with their
intervals, paired differences against ``rl_only`` and ``base``, and the paper's diagnostics
(:mod:`int_exp.report.tables`). Runs are grouped by the ``comparison_group`` tag (base model and
every evaluation setting), so runs with different base models or eval settings are never mixed.

    python -m int_exp.report --experiment sandbox             # every finished job of an experiment
    python -m int_exp.report --parent-run-id <sweep run id>   # the jobs of one sweep
    python -m int_exp.report --help                           # every flag
"""

from __future__ import annotations

from int_exp.report.cli import main, write_report

__all__ = ["main", "write_report"]
