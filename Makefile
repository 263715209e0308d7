# berth — the two commands that matter: `make up` and `make test`.
export CARGO_TARGET_DIR ?= /var/tmp/berth-target
# Incremental state would add tens of GB per build on a clean machine; CI
# builds from scratch anyway.
export CARGO_INCREMENTAL ?= 0
DATA_DIR ?= /var/lib/berth
HTTPS_PORT ?= 6443
BERTH := $(CARGO_TARGET_DIR)/release/berth

.PHONY: up down deps build test test-unit test-kubectl bench bench-full fmt clippy check

## Install what is missing, build, and start a single-node cluster.
up: deps build
	@scripts/up.sh "$(BERTH)" "$(DATA_DIR)" "$(HTTPS_PORT)"

## Stop the cluster started by `make up`.
down:
	@scripts/down.sh "$(DATA_DIR)" "$(BERTH)"

deps:
	@scripts/install-deps.sh

build:
	cargo build --release -p berth

## Every test: unit, integration (in-process API server), kubectl against a real `berth server`.
test: deps
	cargo fmt --all -- --check
	cargo build -p berth
	cargo test --workspace --no-fail-fast

## Figures, printed (nothing timed is asserted in tests), then one table of
## every figure beside its goal: target/bench/summary.{txt,json}. A step that
## fails or cannot run here shows as "not run" in the table (hence the `-`).
BENCH_OUT := target/bench
BENCH_JSON := berth-bench.json scheduler.json proxy-sync.json dns-qps.json netbench.json \
	sim-short.json sim-short.txt summary.json summary.txt bench-started-at bench-built-at
bench: deps
	@mkdir -p $(BENCH_OUT)
	@cd $(BENCH_OUT) && rm -f $(BENCH_JSON)
	@date +%s > $(BENCH_OUT)/bench-started-at
	cargo build --release -p berth -p berth-bench
	cargo build --release -p berth-scheduler --example throughput
	cargo build --release -p berth-proxy --example sync_bench
	cargo build --release -p berth-dns --example qps
	cargo test --release -p berth --test netbench --no-run
	@date +%s > $(BENCH_OUT)/bench-built-at
	-$(CARGO_TARGET_DIR)/release/berth-bench --berth $(BERTH) --json $(BENCH_OUT)/berth-bench.json
	@echo "== scheduler: decisions/s on 5,000 simulated nodes (goal ≥ 5,000 pods/s; kube-scheduler CI floor 680–810)"
	-$(CARGO_TARGET_DIR)/release/examples/throughput --nodes 5000 --pods 10000 --json $(BENCH_OUT)/scheduler.json
	@echo "== proxy: nftables sync with 1,000 and 10,000 services (goal ≤ 1 s after one change at 10,000)"
	-$(CARGO_TARGET_DIR)/release/examples/sync_bench --json $(BENCH_OUT)/proxy-sync.json
	@echo "== dns: queries/s and p99 with 1,000 services"
	-$(CARGO_TARGET_DIR)/release/examples/qps --json $(BENCH_OUT)/dns-qps.json
	@echo "== service network on two netns nodes: endpoint routable after Ready; ClusterIP vs pod IP req/s (goal within 10%)"
	-cargo test --release -p berth --test netbench -- --ignored --nocapture --test-threads=1
	@echo "== hollow-node simulator, short: 500 nodes, 15,000 pods (table also in $(BENCH_OUT)/sim-short.{txt,json})"
	-$(CARGO_TARGET_DIR)/release/berth-sim --berth $(BERTH) --nodes 500 --pods 15000 --deployments 50 \
		--churn-seconds 60 --lose-nodes 50 --watchers 2000 --watch-updates 50 --limit-minutes 10 \
		--out $(BENCH_OUT) --name sim-short
	@echo "== summary: every figure beside its goal ($(BENCH_OUT)/summary.{txt,json})"
	$(CARGO_TARGET_DIR)/release/bench-summary --dir $(BENCH_OUT) \
		--started-at $(BENCH_OUT)/bench-started-at --built-at $(BENCH_OUT)/bench-built-at
	@echo "make bench took $$(( $$(date +%s) - $$(cat $(BENCH_OUT)/bench-started-at) )) s" \
		"($$(( $$(date +%s) - $$(cat $(BENCH_OUT)/bench-built-at) )) s after the builds)"

## The full-scale simulation of docs/benchmarks.md: 5,000 hollow nodes, 150,000 pods (about an hour).
bench-full: deps
	cargo build --release -p berth -p berth-bench
	$(CARGO_TARGET_DIR)/release/berth-sim --berth $(BERTH) --out target/bench --name sim-full

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
