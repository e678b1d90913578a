"""int-exp's Optuna sweeper for Hydra: ``defaults: [override /hydra/sweeper: optuna]``.

Why this exists
---------------
The official ``hydra-optuna-sweeper`` cannot be installed next to the rest of this project:

* its latest release (1.3.0) pins ``optuna<3``; Optuna 2.10's RDB storage breaks under
  SQLAlchemy 2, which MLflow needs, so persistent (sqlite) studies do not work;
* asking pip for ``optuna>=4`` makes it fall back to sweeper 1.1.2, which rejects the
  current ``hydra.sweeper.params`` configs.

So this package is a small reimplementation on Optuna 5's ask-and-tell API
(``study.ask()`` / ``study.tell()``) that accepts the ``hydra.sweeper`` configuration users
know from ``hydra-optuna-sweeper``: ``sampler`` (also the ``hydra/sweeper/sampler`` group:
tpe, random, cmaes, nsgaii, qmc, gp, grid), ``direction`` (a list for multi-objective),
``storage``, ``study_name``, ``n_trials``, ``n_jobs``, ``max_failure_rate``, ``params`` and
``custom_search_space``. Do not install ``hydra-optuna-sweeper`` as well: both register
``hydra/sweeper=optuna``.

Differences from hydra-optuna-sweeper (all deliberate):

* ``storage`` defaults to ``sqlite:///sweeps/optuna.db`` (relative to the directory the command
  runs in) and the study is always opened with ``load_if_exists=True``.
* ``n_trials`` is the TOTAL number of finished trials (COMPLETE, PRUNED or FAIL) the study should
  have, not the number to add: re-running a sweep that stopped after 3 of ``n_trials=5`` runs the
  2 missing ones; re-running it with ``n_trials=8`` runs 3 more. Failed trials count, so after a
  fix raise ``n_trials`` to get more trials.
* ``study_name: null`` derives a stable name from the job name and a hash of the search space,
  the fixed overrides and the direction(s), so re-running the same command resumes the same
  study and a different sweep never lands in an unrelated study.
* every trial gets ``++<trial_number_key>=<trial number>`` (default key
  ``tracking.trial_number``; null disables) and, when ``study_name_key`` is set,
  ``++<study_name_key>=<study name>``. The job's ``hydra.job.num`` (hence its folder in the
  sweep dir) is the Optuna trial number, so a resumed sweep never overwrites earlier folders
  (unless another process asks trials of the same study at the same time). Each trial's user
  attributes hold ``overrides`` (what reproduces it), ``output_dir`` and, if it failed,
  ``fail_reason``.
* a failing job (exception, None/NaN/non-numeric return) is told to Optuna as FAIL and the sweep
  goes on while failed/launched (over this invocation's trials) stays <= ``max_failure_rate``;
  past it the sweep stops with :class:`SweepFailureRateExceeded`.
* ``search_space`` (the Hydra 1.1 form) is not supported: use ``params``.

Search space syntax (``params`` values and ``-m`` command-line overrides, Hydra's override grammar):

=================================  ==================================================
``choice(a,b,c)`` or ``a,b,c``      ``CategoricalDistribution([a, b, c])``
``range(1,9,2)``                    ``IntDistribution(1, 9, step=2)`` (``stop`` is INCLUSIVE,
                                    as in hydra-optuna-sweeper, unlike Python's range)
``range(0.1,0.5,0.1)``              ``FloatDistribution(0.1, 0.5, step=0.1)``
``interval(0,1)``                   ``FloatDistribution(0.0, 1.0)`` (Hydra makes interval
                                    bounds floats)
``int(interval(1,10))``             ``IntDistribution(1, 10)``
``tag(log,interval(1e-6,1e-3))``    ``FloatDistribution(1e-6, 1e-3, log=True)``
``tag(log,int(interval(1,64)))``    ``IntDistribution(1, 64, log=True)``
``tag(log,range(1,64))``            ``IntDistribution(1, 64, log=True)`` (step must be 1)
``glob(*)`` (config groups)         ``CategoricalDistribution`` of the matching options
anything else (``x=3``)             a fixed override passed unchanged to every trial
=================================  ==================================================

The command line wins over ``params`` for the same key. After the sweep the sweeper logs the
best trial and writes ``optimization_results.yaml`` into the sweep dir (``name``,
``study_name``, ``best_params``, ``best_value``, ``best_trial``, ``best_overrides``,
``n_trials_by_state``...; ``solutions`` instead of ``best_*`` for multi-objective). The
sweeper object keeps ``study`` (the :class:`optuna.Study`) and ``returns`` (the JobReturns).
"""
