"""Answer checking: the boxed-answer convention and the math-verify grader.

The public API: ``grade(output, gold)``, ``grade_many(outputs, golds)``,
``answers_equivalent(pred, gold)`` and ``extract_boxed(text)``.

* :mod:`.answers`: the ``\\boxed{}`` convention every builtin domain shares;
* :mod:`.grader`: math-verify with our answer forms (:mod:`.forms`), under hard time limits
  (:mod:`.deadline`), in worker processes for big batches (:mod:`.pool`).

The package sits on the pure-logic floor, below the domains: the math domain grades with it (and
the arith domain through math's answer check), and the leak filter in
:mod:`int_exp.interventions` defaults to it, without either lower package importing a domain.
Stages and the RL reward do not import this package: they grade through the domain of each
problem (:func:`int_exp.domains.grade_by_source`).
"""

from int_exp.grading.answers import extract_boxed
from int_exp.grading.grader import DEFAULT_TIMEOUT, answers_equivalent, grade, grade_many, shutdown_pool

__all__ = ["DEFAULT_TIMEOUT", "answers_equivalent", "extract_boxed", "grade", "grade_many", "shutdown_pool"]
