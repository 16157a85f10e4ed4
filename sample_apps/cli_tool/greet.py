"""A tiny command-line tool: greet one or more people (lesson 02: CMD vs ENTRYPOINT)."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="greet", description="Greet people from inside a container.")
    parser.add_argument("names", nargs="*", default=["world"], help="who to greet")
    parser.add_argument("--shout", action="store_true", help="upper-case the greeting")
    args = parser.parse_args(argv)
    for name in args.names:
        line = f"hello, {name}!"
        print(line.upper() if args.shout else line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
