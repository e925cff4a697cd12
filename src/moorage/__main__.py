"""``python -m moorage`` runs the ``moorage`` command."""

from moorage.cli import main

main()
