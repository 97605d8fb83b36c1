# Two commands for a newcomer; the logic lives in devtools/ (Python), not here.
PYTHON ?= python3

.PHONY: run test

run:
	$(PYTHON) -m devtools run

test:
	$(PYTHON) -m devtools test
