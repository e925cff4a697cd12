"""Fleet monitoring: the agent (:mod:`.agent`, standalone: psutil and httpx only), the
hub's ingest, roll-ups, health, alerts and remote actions."""
