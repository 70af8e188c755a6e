"""`make bench`: every benchmark, each against its named baseline, with ratios."""

from benchmarks import bench_datasets, bench_help, bench_ingest

try:  # the run benchmark needs the sandbox; it lives in its own module
    from benchmarks import bench_run
except ImportError:  # pragma: no cover
    bench_run = None

if __name__ == "__main__":
    bench_help.main()
    bench_ingest.main()
    bench_datasets.main()
    if bench_run is not None:
        bench_run.main()
