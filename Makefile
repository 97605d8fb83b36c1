# Two commands for a newcomer; the logic lives in devtools/ (Python), not here.
PYTHON ?= python3
# make run SCALE=2 BROKERS=3: two processes of every service, a 3-broker Kafka cluster.
SCALE ?= 1
BROKERS ?= 1

.PHONY: run test audit

run:
	$(PYTHON) -m devtools run --scale $(SCALE) --brokers $(BROKERS)

test:
	$(PYTHON) -m devtools test

# Known vulnerabilities of the pinned dependencies (pip-audit); prints them, not a CI gate.
audit:
	$(PYTHON) -m devtools audit
