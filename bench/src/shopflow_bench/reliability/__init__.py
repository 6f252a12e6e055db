"""Faults survived, measured: the harness of the fault suite (tests/faults) and the soak.

- ``stack``: the local stack (moto server and the workers, as ``shopflow up`` runs them, restarted
  as ECS would) with a fault plan every worker reads: kills at named points, AWS call faults.
- ``checks``: what every scenario asserts: KPI tables equal to a clean run, every upload in
  exactly one run, every file's rows accounted for, nothing left in flight.
- ``soak``: hundreds of uploads over minutes, two workers per stage, faults on
  (``shopflow bench --soak``).
"""
