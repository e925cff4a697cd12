# The two commands of the README. Both install what is missing first.
HOST ?= 127.0.0.1
PORT ?= 8000
# Workspace web apps get their own origin on this port unless MOORAGE_WORKSPACE_DOMAIN
# or MOORAGE_WORKSPACE_PORT is set (README, "Workspace origin").
WORKSPACE_PORT ?= 8001

.PHONY: run test setup lint bench deploy

run: setup
	@if [ -z "$$MOORAGE_WORKSPACE_DOMAIN$$MOORAGE_WORKSPACE_PORT" ]; then \
		export MOORAGE_WORKSPACE_PORT=$(WORKSPACE_PORT); fi; \
	uv run --frozen moorage serve --host $(HOST) --port $(PORT)

test:
	bash scripts/test.sh

# Production on this machine: Docker Compose with PostgreSQL and TLS (README,
# "Running in production"). Builds the images from local bases, then starts the stack.
deploy: setup
	bash deploy/build.sh
	bash deploy/compose.sh up -d --no-build --wait

setup:
	bash scripts/setup.sh

lint:
	uv run --frozen ruff check src tests bench
	uv run --frozen ruff format --check src tests bench
	uv run --frozen mypy

bench: setup
	for b in sessions reservations desktop docker_api recording fleet_ingest agent_footprint signin_flood; do \
		uv run --frozen python bench/$$b.py || exit 1; done
