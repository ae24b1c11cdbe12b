SHELL := /bin/bash

# Shortcuts for the commands the README and docs give; each target is one
# command you can also run by hand.

.PHONY: run test drill perf

# The README's quick start: rcmhss on the embedded store.
run:
	go run ./cmd/rcmhss

# The README's test command (what .ci/run runs).
test:
	go test -count=1 -timeout 40m ./...

# Every failover drill of docs/FAILOVER.md (needs redis-server and
# freeDiameterd); each appends its figures to $(DRILL_REPORT), which starts
# empty, and the full log goes to drill-log.txt.
DRILL_REPORT ?= drill-report.txt
drill:
	rm -f $(DRILL_REPORT)
	CI=true RCMHSS_DRILL_REPORT=$(abspath $(DRILL_REPORT)) go test -count=1 -timeout 20m -v \
		-run 'TestDrill|TestFailoverGuard|TestRequestClaim|TestDuplicateAnswerAcrossNodes|TestHSSRequestsAcrossNodes|TestPeerDirectory' \
		./integration/ ./hss/redisstore/ 2>&1 | tee drill-log.txt; test $${PIPESTATUS[0]} -eq 0
	@echo "drill report: $(DRILL_REPORT)"; cat $(DRILL_REPORT)

# docs/PERFORMANCE.md's measured section and docs/perf-report.html.
perf:
	scripts/perf.sh
