import argparse
import sys

from opml.bench import automl


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m opml.bench", description="opml benchmarks")
    commands = parser.add_subparsers(dest="benchmark", required=True)
    automl.add_arguments(commands.add_parser("automl", help=automl.__doc__.splitlines()[0]))
    args = parser.parse_args()
    return args.run(args)


sys.exit(main())
