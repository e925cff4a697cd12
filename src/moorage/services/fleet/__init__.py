"""Fleet monitoring, the hub's side: agents enrol (:mod:`.enrolment`) and push reports
(:mod:`.ingest`), which become each node's latest values and health
(:mod:`.health`, :mod:`.nodes`) and a metric history (:mod:`.metrics`,
:mod:`.rollup`); alert rules (:mod:`.alert_rules`) open alerts (:mod:`.alerts`)
that notify channels (:mod:`.channels`); operators run allow-listed actions
(:mod:`.actions`). The agent itself is :mod:`moorage.agent`."""
