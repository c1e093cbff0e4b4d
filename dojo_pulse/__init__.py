"""The command line and the local launcher of Dojo Pulse, and its traffic simulator.

Contract: the top of the house. ``cli`` (``dojo-pulse``) starts the worker, the collector,
the live feed and the local infrastructure; ``launch`` runs them all as child processes;
``simulation`` generates deterministic traffic with its ground truth; ``dlq`` inspects and
replays the dead-letter topic. May import every
package (``stream``, ``collector``, ``live_feed``, ``infra``); none of them imports it.
"""
