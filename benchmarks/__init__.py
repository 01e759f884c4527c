"""The benchmark suite (`make bench`): the mock, the connector and the gateway against their
ceilings and peers. Never part of `make test`; see benchmarks/README.md."""
