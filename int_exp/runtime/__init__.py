"""Runtime services every other package may use, importing no other int_exp package.

* :mod:`~int_exp.runtime.threads`: this job's share of the machine's cores (the thread budget).
* :mod:`~int_exp.runtime.processes`: which jobs run on this machine (host name, liveness).
* :mod:`~int_exp.runtime.hardware`: the device a model runs on and its torch threads.
* :mod:`~int_exp.runtime.plugins`: plugins found by name (the domain and trainer registries).

They sit at the bottom of the package floors (tests/test_layout.py checks that no package cycle
goes through them): the pipeline, the engines and the domains all need them.
"""
