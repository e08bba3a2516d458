import argparse
import sys

from opml.bench import automl, drift, faults, monitoring, pages, pipelines, rollout, serving, soak


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m opml.bench", description="opml benchmarks")
    commands = parser.add_subparsers(dest="benchmark", required=True)
    benchmarks = (
        ("automl", automl),
        ("serving", serving),
        ("pipelines", pipelines),
        ("soak", soak),
        ("faults", faults),
        ("drift", drift),
        ("monitoring", monitoring),
        ("rollout", rollout),
        ("pages", pages),
    )
    for name, module in benchmarks:
        module.add_arguments(commands.add_parser(name, help=module.__doc__.splitlines()[0], description=module.__doc__))
    args = parser.parse_args()
    return args.run(args)


sys.exit(main())
