"""Prints (and with --git-add stages) what to commit of a study folder as it runs: its index, recipe and each
finished run's records, with the compact test predictions (flair_munch.study.records).

    python benchmarks/pack_study.py benchmarks/results/munchables-cpu --git-add && git commit -m "records so far"
"""

import argparse
import subprocess

from flair_munch.study.records import pack_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", help="the study's output_dir")
    parser.add_argument("--git-add", action="store_true", help="git add the files (the full predictions stay ignored)")
    args = parser.parse_args()
    files = [str(path) for path in pack_records(args.study)]
    print("\n".join(files))
    if args.git_add and files:
        subprocess.run(["git", "add", "--", *files], check=True)


if __name__ == "__main__":
    main()
