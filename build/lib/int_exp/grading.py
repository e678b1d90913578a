"""The public grading API: ``grade(output, gold)``, ``grade_many(outputs, golds)``,
``answers_equivalent(pred, gold)`` and ``extract_boxed(text)``.

These are the math domain's grader (math-verify with our answer forms and time limits:
:mod:`int_exp.domains.math.grading`). Stages and the RL reward do not import this module: they
grade through the domain of each problem (:func:`int_exp.domains.grader_for`), which for the
math sources and local files is this grader.
"""

from int_exp.domains.answers import extract_boxed
from int_exp.domains.math.grading import DEFAULT_TIMEOUT, answers_equivalent, grade, grade_many, shutdown_pool

__all__ = ["DEFAULT_TIMEOUT", "answers_equivalent", "extract_boxed", "grade", "grade_many", "shutdown_pool"]
