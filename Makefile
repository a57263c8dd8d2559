# The two set-up commands: `make demo` and `make test`.
CARGO ?= cargo

.PHONY: demo test lint fmt bench bench-scoring bench-spike bench-router-state bench-pipeline

## run the whole pipeline on the embedded broker with the bundled sample stream
demo:
	$(CARGO) run -p outcry-cli --bin outcry -- demo $(DEMO_ARGS)

## formatting, lints, and every test (unit, property, end to end on a mock and a real broker)
test: lint
	OUTCRY_BROKER_BIN="$$(bash scripts/ensure-broker.sh)" $(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	cd proto && "$$(bash ../scripts/ensure-buf.sh)" lint .
	@command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
	cd deploy/prometheus && promtool check rules outcry-rules.yaml && promtool test rules outcry-rules.test.yaml
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## benchmarks: scorer against the Python stack, spike detector cost per mention, the
## router's state (routing with snapshots against without, snapshot size, replay), pipeline
## throughput against raw broker throughput on the same broker
bench: bench-scoring bench-spike bench-router-state bench-pipeline

bench-scoring:
	bash scripts/bench-scoring.sh

bench-spike:
	$(CARGO) bench -p outcry-spike

bench-router-state:
	$(CARGO) bench -p outcry-router --bench state

bench-pipeline:
	OUTCRY_BROKER_BIN="$$(bash scripts/ensure-broker.sh)" $(CARGO) bench -p outcry-e2e --bench pipeline
