"""What an operator watches: Prometheus metrics (:mod:`.metrics`), the request id
every log line and audit event of a request carries (:mod:`.request_id`), and JSON
log lines (:mod:`.logs`).

This package sits below ``services/``, ``reconciler/``, ``gateway/`` and ``api/``
(they record into it) and imports none of them.
"""
