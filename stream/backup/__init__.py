"""Backups that restore: one id across Kafka, the SQL store and the serving counters in Redis.

Contract. ``create`` writes one directory ``<backup dir>/<id>/`` holding every topic of the
deployment (records with key, value, headers, timestamp, partition and offset; the Faust
changelogs and the learner's checkpoint topic are topics too, so the metric and model
checkpoints travel with them), the consumer groups' committed offsets, the SQL store and
the pipeline counters, each file compressed with zstd and optionally sealed with AES-GCM,
and ``manifest.json`` last, with the SHA-256 of every file. It is written under a temporary
name and renamed when complete, so a directory with a manifest is a whole backup.
``verify`` reads every byte back; ``restore`` refuses a backup that does not verify and a
stack that holds data (unless forced); ``drill`` restores onto a scratch broker and store.

Never backed up: the daily visitor salts (a restored salt would let old visitor ids be
linked again), admin sessions, rate limits and dedupe claims (rebuilt from ``dojo.events``).

Floor 4: imports settings, topics, keys, the store and ``infra`` (for ``pg_dump`` and the
drill's scratch broker); nothing above imports back except the command line.
"""
