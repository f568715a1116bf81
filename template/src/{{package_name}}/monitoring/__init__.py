"""Monitoring: does the data a model sees still look like the data it was trained on?

:mod:`.drift` scores a batch against a version's training profile
(:mod:`.profile`) with the statistics in :mod:`.statistics`; :mod:`.check`
runs that for ``just drift``, writes the JSON and HTML reports
(:mod:`.report_html`, :mod:`.svg`) and records the outcome on the version;
:mod:`.commands` wires it into the CLI. Importing this package is cheap: the
modules load numpy and pandas only when imported themselves.
"""
