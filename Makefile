# Two commands for a newcomer; the logic lives in devtools/ (Python), not here.
PYTHON ?= python3

.PHONY: run test audit

run:
	$(PYTHON) -m devtools run

test:
	$(PYTHON) -m devtools test

# Known vulnerabilities of the pinned dependencies (pip-audit); prints them, not a CI gate.
audit:
	$(PYTHON) -m devtools audit
