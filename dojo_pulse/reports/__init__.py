"""Reports that arrive by themselves: key figures of a period against the one before.

``figures.gather`` reads the store (traffic, registrations, attendance, resources, vitals,
funnels) for a daily, weekly or monthly period and the previous one of the same length;
``render`` makes the HTML email (Jinja2, inline SVG charts), its text part and CSV
attachments; ``mail`` sends it through ``DOJO_SMTP_URL`` (TLS with ``smtps://``) and
``archive`` keeps every report under ``<DOJO_DATA_DIR>/reports`` for the panel. Nothing in a
report names a person: the store holds counts only.
"""
