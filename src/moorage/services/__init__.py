"""Domain logic: leases, sessions, templates, users, bootstrap."""
