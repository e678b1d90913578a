"""The paper-style comparison, read back from MLflow, with 95% bootstrap intervals:
``python -m int_exp.report --help`` (:mod:`int_exp.report.cli`); the table's columns are described
in :mod:`int_exp.report.tables`."""

from __future__ import annotations

from int_exp.report.cli import main, write_report

__all__ = ["main", "write_report"]
