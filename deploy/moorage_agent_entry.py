"""Entry point of the PyInstaller build (deploy/moorage-agent.spec): the agent's command
line, ``moorage-agent enroll|run|top``."""

from moorage.agent.main import main

if __name__ == "__main__":
    main()
