"""Runtime drivers: the typed contracts in :mod:`.base`, Docker in :mod:`.docker`,
an in-package fake for unit tests in :mod:`.fake`."""
