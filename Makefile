# workflow-backend. `make dev` runs everything in one process; `make test`
# runs the whole suite (it starts what it needs itself).

GO ?= go
# The race detector makes code 5-20 times slower, so it runs where it has
# something to find. Without it run:
#   - the packages whose tests link the embedded Temporal server (too heavy
#     for it on 2 cores);
#   - internal/sqlpolicy: no goroutines, and its tests spend 20 s under the
#     detector inside SQLite's value limits;
#   - internal/expr a second time: under the detector its CPU-bound tests
#     skip themselves (testenv.SkipUnderRace), here they run.
# Recursive (=) so that only the targets that use them run `go list`.
# The longest-running packages first: go test starts them first.
SERVER_PKGS = ./workflows/... ./cmd/... ./internal/devserver/... ./internal/dev/... ./api/e2e/...
NO_RACE_PKGS = $(SERVER_PKGS) ./internal/sqlpolicy/...
PLAIN_PKGS = $(NO_RACE_PKGS) ./internal/expr/...
RACE_PKGS = $(filter-out $(shell $(GO) list $(NO_RACE_PKGS)),$(shell $(GO) list ./...))

.PHONY: dev test test-race test-server test-faults check build bench bench-scale bench-waiting bench-map fmt replay replay-corpus

dev:
	$(GO) run ./cmd/dev

# The static checks and the two test runs go side by side: the race run
# keeps the cores busy while the server tests wait on timers, polls and the
# embedded server. make test fails if any of the three does.
test:
	@$(MAKE) --no-print-directory -j3 check test-race test-server

test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

test-server:
	$(GO) test -count=1 $(PLAIN_PKGS)

# Fault tests on real processes (docs/reliability.md): builds dev, api and
# worker, starts a Temporal server process, a Postgres cluster of its own
# (initdb/pg_ctl), two workers and the API, and kills, stops and restarts
# them while executions run.
test-faults:
	$(GO) test -tags faults -count=1 -timeout 15m -v ./test/faults/

# Static checks: formatting, vet, workflowcheck (no non-deterministic call
# is reachable from the interpreter workflow), and that the production
# binaries do not link the Temporal server.
PROD_CMDS := ./cmd/api ./cmd/worker ./cmd/replay
# workflowcheck is a module of its own; `go run` fetches this version.
WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags faults ./test/faults/
	$(GO) run $(WORKFLOWCHECK) ./interpreter/...
	@for cmd in $(PROD_CMDS); do \
		if $(GO) list -deps $$cmd | grep -q '^go.temporal.io/server'; then \
			echo "$$cmd links go.temporal.io/server"; exit 1; fi; \
	done

build:
	$(GO) build -o bin/ ./cmd/...

bench: bench-map
	$(GO) run ./cmd/bench

# The production topology as processes: Temporal on Postgres, the API and
# 0, 1, 2, 4 worker processes (docs/benchmarks.md, "Scale"). It creates and
# drops its databases on TEST_DATABASE_URL's Postgres (default the local one).
bench-scale:
	$(GO) run ./cmd/bench -scale -n 400

# What executions waiting for a signal cost a worker, at the default sticky
# cache (sized from MAX_MEMORY) and at the SDK's 10,000 (docs/benchmarks.md).
bench-waiting:
	$(GO) run ./cmd/bench -waiting 10000
	WORKER_STICKY_CACHE_SIZE=10000 $(GO) run ./cmd/bench -waiting 10000

# map over 10,000 items with a local, a remote and a definition body on the
# embedded server: every run's history under 10,240 events (events per run
# and per item are logged).
bench-map:
	MAP_BUDGET_ITEMS=10000 $(GO) test -count=1 -v -timeout 60m -run 'TestLoopAndMap/HistoryBudget' ./workflows/

# Replay histories against this build's interpreter before deploying it:
#   make replay QUERY="DefinitionId = 'order-processing'"   (TEMPORAL_* say where)
#   make replay FILES="history.json more/"
replay:
	@if [ -z "$(QUERY)$(FILES)" ]; then echo 'usage: make replay QUERY="<list query>" | FILES="<files or dirs>"'; exit 2; fi
	$(GO) run ./cmd/replay $(if $(QUERY),--query "$(QUERY)") $(FILES)

# Replay the recorded corpus (the interpreter's replay test does the same in CI).
replay-corpus:
	$(GO) run ./cmd/replay interpreter/testdata/histories

fmt:
	gofmt -w $$(git ls-files '*.go')
