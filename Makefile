# The README's commands. `make test` works on a fresh Debian machine: it installs what it needs.
.PHONY: test stack faults fleet lint structure bench demo sync system system-tests mutants mutants-sample soak

UV ?= uv
PYTEST_ARGS ?=

system:
	bash scripts/ensure-system.sh

# What only the tests and benches use on top (Ceph RGW, a spare redis-server).
system-tests:
	bash scripts/ensure-system.sh --tests

sync: system
	$(UV) sync --frozen --compile-bytecode
	test -f edge/player/vendor/hls.min.js || bash scripts/vendor-hlsjs.sh

# Lint and types first (seconds), then the suite against the real services, in two pytest-xdist
# processes: each is a session of its own (S3, Prefect, RGW, a Postgres db, a Redis db), and most
# tests wait on processes rather than compute, so two halve the wall time even on two cores
# (three were slower here: one more session to start). Whole modules go to a worker
# (loadscope), so a module's fixtures (an edge, a `dailies up`) start once; tests/conftest.py
# puts the modules with slow tests first.
PYTEST_WORKERS ?= 2
# The 30 slowest steps go to the output (setups included): where the next minute is.
test: system-tests lint
	$(UV) run pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=30 $(PYTEST_ARGS)

# The product started as its users start it: `dailies up` on moto and on Ceph RGW, the demo,
# the CLI on workers. Each starts a stack of its own (a minute or more apiece), so they run
# apart from the suite, in two processes like it.
stack: system-tests sync
	$(UV) run pytest -m stack -n $(PYTEST_WORKERS) --dist loadscope --durations=10 $(PYTEST_ARGS)

# Fault injection: real SIGKILLs of flow runs, workers and ffmpeg (tests/faults, minutes),
# in random order like the rest of the suite.
faults: system-tests sync
	$(UV) run pytest -m faults tests/faults $(PYTEST_ARGS)

# The production shape (ops/fleet.py) on network-namespace hosts this makes and removes (root):
# two Prefect API replicas behind a load balancer, two dailies APIs behind the edge, two
# worker hosts; hosts killed mid-work. One `FLEET …` line per scenario.
fleet: system-tests sync
	$(UV) run pytest -m fleet tests/fleet -p no:randomly $(PYTEST_ARGS)

# The rooms' import rules (pyproject.toml's [tool.importlinter]: the API imports nothing from
# tasks/, media/, flows/; the library nothing above it; only the preview lifecycle writes its row).
structure: sync
	$(UV) run lint-imports

# Proof that CI is green every time: `bash .ci/run` on RUNS fresh clones of HEAD in a row,
# beside BURNERS busy loops (RUNS=3 BURNERS=2 make soak for a loaded box); a table of each
# run's time and seed (scripts/soak.sh).
soak:
	bash scripts/soak.sh

# Mutation testing of the pure cores against the fast pure tests (not part of `make test`):
# every mutant, under 15 min on 2 cores; killed, timed out and survivors go to bench/RESULTS.md
# and an unexplained survivor fails. CI runs mutants-sample: a seeded random sample, same gates.
mutants: sync
	$(UV) run python bench/mutants.py

MUTANTS_SAMPLE ?= 200
mutants-sample: sync
	$(UV) run python bench/mutants.py --sample $(MUTANTS_SAMPLE)

lint: sync
	$(UV) run ruff check .
	$(UV) run mypy
	$(UV) run lint-imports

bench: system-tests sync
	$(UV) run python bench/promote.py
	$(UV) run python bench/audit.py
	$(UV) run python bench/preview.py
	$(UV) run python bench/api.py
	$(UV) run python bench/first_play.py

demo: sync
	$(UV) run dailies demo
