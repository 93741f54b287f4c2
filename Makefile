# The two commands a fresh machine needs (see README):
#   make sample   set everything up, build the sample's browser bundle and Pi package
#   make test     set everything up, run the whole test suite
.PHONY: sample test setup

setup:
	scripts/setup.sh

sample:
	scripts/sample.sh

test:
	scripts/test.sh
